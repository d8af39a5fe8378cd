import { deflateRawSync } from 'node:zlib';

/**
 * A small ESRI Shapefile writer (polygons, .shp/.shx/.dbf/.prj/.cpg) and a deterministic ZIP
 * packer: Chinese land data usually arrives as zipped Shapefiles. Pure: returns bytes.
 */

export type ShpField =
  | { name: string; type: 'C'; length?: number }
  | { name: string; type: 'D' }
  | { name: string; type: 'N'; length: number; decimals: number };

export interface ShpPolygonFeature {
  /** Polygons → rings → [x, y] in the target CRS; rings closed or not, any orientation. */
  polygons: [number, number][][][];
  properties: Record<string, string | number | null>;
}

/** ESRI WKT of CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548), as GDAL writes it. */
export const PRJ_EPSG_4548 =
  'PROJCS["CGCS2000_3_Degree_GK_CM_117E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]';

function signedArea(ring: [number, number][]): number {
  let a = 0;
  for (let i = 0; i < ring.length; i++) {
    const p = ring[i]!;
    const q = ring[(i + 1) % ring.length]!;
    a += p[0] * q[1] - q[0] * p[1];
  }
  return a / 2;
}

/** Shapefile winding: outer rings clockwise, holes counter-clockwise, closed. */
function shpRing(ring: [number, number][], outer: boolean): [number, number][] {
  const r = ring.slice();
  const f = r[0]!;
  const l = r[r.length - 1]!;
  if (f[0] === l[0] && f[1] === l[1]) r.pop();
  const cw = signedArea(r) < 0;
  if (cw !== outer) r.reverse();
  r.push([r[0]![0], r[0]![1]]);
  return r;
}

/** The .shp, .shx and .dbf of a polygon layer. */
export function encodeShapefile(
  features: ShpPolygonFeature[],
  fields: ShpField[],
): { shp: Buffer; shx: Buffer; dbf: Buffer } {
  const records: Buffer[] = [];
  let xmin = Number.POSITIVE_INFINITY;
  let ymin = Number.POSITIVE_INFINITY;
  let xmax = Number.NEGATIVE_INFINITY;
  let ymax = Number.NEGATIVE_INFINITY;
  for (const f of features) {
    const rings = f.polygons.flatMap((poly) => poly.map((ring, k) => shpRing(ring, k === 0)));
    const pts = rings.flat();
    let bx0 = Number.POSITIVE_INFINITY;
    let by0 = Number.POSITIVE_INFINITY;
    let bx1 = Number.NEGATIVE_INFINITY;
    let by1 = Number.NEGATIVE_INFINITY;
    for (const [x, y] of pts) {
      bx0 = Math.min(bx0, x);
      by0 = Math.min(by0, y);
      bx1 = Math.max(bx1, x);
      by1 = Math.max(by1, y);
    }
    xmin = Math.min(xmin, bx0);
    ymin = Math.min(ymin, by0);
    xmax = Math.max(xmax, bx1);
    ymax = Math.max(ymax, by1);
    const content = Buffer.alloc(44 + 4 * rings.length + 16 * pts.length);
    content.writeInt32LE(5, 0);
    content.writeDoubleLE(bx0, 4);
    content.writeDoubleLE(by0, 12);
    content.writeDoubleLE(bx1, 20);
    content.writeDoubleLE(by1, 28);
    content.writeInt32LE(rings.length, 36);
    content.writeInt32LE(pts.length, 40);
    let o = 44;
    let start = 0;
    for (const r of rings) {
      content.writeInt32LE(start, o);
      o += 4;
      start += r.length;
    }
    for (const [x, y] of pts) {
      content.writeDoubleLE(x, o);
      content.writeDoubleLE(y, o + 8);
      o += 16;
    }
    records.push(content);
  }
  if (!features.length) xmin = ymin = xmax = ymax = 0;
  const header = (lengthBytes: number): Buffer => {
    const h = Buffer.alloc(100);
    h.writeInt32BE(9994, 0);
    h.writeInt32BE(lengthBytes / 2, 24);
    h.writeInt32LE(1000, 28);
    h.writeInt32LE(5, 32);
    h.writeDoubleLE(xmin, 36);
    h.writeDoubleLE(ymin, 44);
    h.writeDoubleLE(xmax, 52);
    h.writeDoubleLE(ymax, 60);
    return h;
  };
  const shpLen = 100 + records.reduce((s, r) => s + 8 + r.length, 0);
  const shp: Buffer[] = [header(shpLen)];
  const shx: Buffer[] = [header(100 + 8 * records.length)];
  let offset = 100;
  records.forEach((r, i) => {
    const rh = Buffer.alloc(8);
    rh.writeInt32BE(i + 1, 0);
    rh.writeInt32BE(r.length / 2, 4);
    shp.push(rh, r);
    const xh = Buffer.alloc(8);
    xh.writeInt32BE(offset / 2, 0);
    xh.writeInt32BE(r.length / 2, 4);
    shx.push(xh);
    offset += 8 + r.length;
  });
  return { shp: Buffer.concat(shp), shx: Buffer.concat(shx), dbf: encodeDbf(features, fields) };
}

/** dBase III table; character fields in UTF-8 (declared by the .cpg). */
function encodeDbf(features: ShpPolygonFeature[], fields: ShpField[]): Buffer {
  const defs = fields.map((f) => {
    if (f.type === 'D') return { ...f, length: 8, decimals: 0 };
    if (f.type === 'N') return f;
    const longest = Math.max(
      1,
      ...features.map((x) => Buffer.byteLength(String(x.properties[f.name] ?? ''), 'utf8')),
    );
    return { ...f, length: Math.min(254, f.length ?? longest), decimals: 0 };
  });
  const headerLen = 32 + 32 * defs.length + 1;
  const recordLen = 1 + defs.reduce((s, d) => s + d.length, 0);
  const buf = Buffer.alloc(headerLen + recordLen * features.length + 1, 0);
  buf.writeUInt8(0x03, 0);
  // Last-update date fixed (2025-01-01) so output does not depend on the clock.
  buf.writeUInt8(125, 1);
  buf.writeUInt8(1, 2);
  buf.writeUInt8(1, 3);
  buf.writeUInt32LE(features.length, 4);
  buf.writeUInt16LE(headerLen, 8);
  buf.writeUInt16LE(recordLen, 10);
  defs.forEach((d, k) => {
    const o = 32 + 32 * k;
    buf.write(d.name.slice(0, 10), o, 'latin1');
    buf.write(d.type, o + 11, 'latin1');
    buf.writeUInt8(d.length, o + 16);
    buf.writeUInt8(d.decimals, o + 17);
  });
  buf.writeUInt8(0x0d, headerLen - 1);
  features.forEach((f, r) => {
    let o = headerLen + r * recordLen;
    buf.write(' ', o, 'latin1');
    o += 1;
    for (const d of defs) {
      const v = f.properties[d.name];
      const field = Buffer.alloc(d.length, 0x20);
      if (v !== null && v !== undefined) {
        if (d.type === 'D') field.write(String(v).replaceAll('-', '').slice(0, 8), 0, 'latin1');
        else if (d.type === 'N') {
          const s = Number(v).toFixed(d.decimals);
          field.write(s.slice(0, d.length), Math.max(0, d.length - s.length), 'latin1');
        } else {
          // Never cut a UTF-8 sequence in half.
          let bytes = Buffer.from(String(v), 'utf8');
          let text = String(v);
          while (bytes.length > d.length) {
            text = text.slice(0, -1);
            bytes = Buffer.from(text, 'utf8');
          }
          bytes.copy(field, 0);
        }
      }
      field.copy(buf, o);
      o += d.length;
    }
  });
  buf.writeUInt8(0x1a, buf.length - 1);
  return buf;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A ZIP archive (deflate) with fixed timestamps (1980-01-01 00:00) and UTF-8 names. */
export function zip(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const comp = deflateRawSync(f.data, { level: 9 });
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x0021, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x0021, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(comp.length, 20);
    cd.writeUInt32LE(f.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    parts.push(local, name, comp);
    offset += local.length + name.length + comp.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

/** A zipped Shapefile: `<base>.shp/.shx/.dbf/.prj/.cpg`. */
export function shapefileZip(
  base: string,
  features: ShpPolygonFeature[],
  fields: ShpField[],
  prj: string,
): Buffer {
  const { shp, shx, dbf } = encodeShapefile(features, fields);
  return zip([
    { name: `${base}.shp`, data: shp },
    { name: `${base}.shx`, data: shx },
    { name: `${base}.dbf`, data: dbf },
    { name: `${base}.prj`, data: Buffer.from(prj, 'utf8') },
    { name: `${base}.cpg`, data: Buffer.from('UTF-8', 'utf8') },
  ]);
}
