import Database from 'better-sqlite3';

/**
 * OGC GeoPackage 1.4 writer for feature tables in EPSG:4326: the SQLite file with the GPKG
 * application id, the mandatory gpkg_spatial_ref_sys / gpkg_contents / gpkg_geometry_columns
 * tables, and geometries as GeoPackage binary blobs (header with envelope + ISO WKB).
 * Built in memory and returned as bytes.
 */

export type GpkgColumnType = 'TEXT' | 'REAL' | 'INTEGER' | 'DATE';

export interface GpkgLayer {
  name: string;
  /** Attribute columns (the `fid` primary key and `geom` are added). */
  columns: { name: string; type: GpkgColumnType }[];
  geometryType: 'POLYGON' | 'MULTIPOLYGON' | 'POINT' | 'GEOMETRY';
  features: {
    properties: Record<string, string | number | null>;
    /** ISO WKB (either byte order) of a 2D geometry in EPSG:4326. */
    wkb: Uint8Array;
    /** [minX, minY, maxX, maxY]. */
    bbox: [number, number, number, number];
  }[];
  description?: string;
}

const GPKG_APPLICATION_ID = 0x47504b47; // 'GPKG'
const GPKG_USER_VERSION = 10400; // 1.4.0

const WGS84_WKT =
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],' +
  'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],' +
  'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],' +
  'AUTHORITY["EPSG","4326"]]';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** GeoPackage binary geometry: 'GP', version 0, flags (little endian, xy envelope), srs_id, envelope, WKB. */
export function gpkgGeometry(wkb: Uint8Array, bbox: [number, number, number, number], srsId = 4326): Buffer {
  const header = Buffer.alloc(8 + 32);
  header.write('GP', 0, 'ascii');
  header.writeUInt8(0, 2); // version 1 is encoded as 0
  header.writeUInt8((1 << 1) | 1, 3); // envelope [minx, maxx, miny, maxy]; little endian
  header.writeInt32LE(srsId, 4);
  header.writeDoubleLE(bbox[0], 8);
  header.writeDoubleLE(bbox[2], 16);
  header.writeDoubleLE(bbox[1], 24);
  header.writeDoubleLE(bbox[3], 32);
  return Buffer.concat([header, wkb]);
}

export function writeGeoPackage(layer: GpkgLayer): Buffer {
  if (!IDENT.test(layer.name)) throw new RangeError(`GeoPackage: bad table name ${layer.name}`);
  for (const c of layer.columns) {
    if (!IDENT.test(c.name) || c.name === 'fid' || c.name === 'geom')
      throw new RangeError(`GeoPackage: bad column name ${c.name}`);
  }
  const db = new Database(':memory:');
  try {
    db.pragma(`application_id = ${GPKG_APPLICATION_ID}`);
    db.pragma(`user_version = ${GPKG_USER_VERSION}`);
    db.exec(`
      CREATE TABLE gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
      CREATE TABLE gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
      CREATE TABLE gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
    `);
    const srs = db.prepare(
      `INSERT INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, definition, description)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    srs.run(
      'WGS 84 geodetic',
      4326,
      'EPSG',
      4326,
      WGS84_WKT,
      'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid',
    );
    srs.run(
      'Undefined cartesian SRS',
      -1,
      'NONE',
      -1,
      'undefined',
      'undefined cartesian coordinate reference system',
    );
    srs.run(
      'Undefined geographic SRS',
      0,
      'NONE',
      0,
      'undefined',
      'undefined geographic coordinate reference system',
    );

    const cols = layer.columns.map((c) => `"${c.name}" ${c.type}`).join(', ');
    db.exec(
      `CREATE TABLE "${layer.name}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom ${layer.geometryType}${cols ? `, ${cols}` : ''})`,
    );
    let ext: [number, number, number, number] | null = null;
    for (const f of layer.features) {
      const [a, b, c, d] = f.bbox;
      ext = ext
        ? [Math.min(ext[0], a), Math.min(ext[1], b), Math.max(ext[2], c), Math.max(ext[3], d)]
        : [a, b, c, d];
    }
    db.prepare(
      `INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
       VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)`,
    ).run(
      layer.name,
      layer.name,
      layer.description ?? '',
      ext?.[0] ?? null,
      ext?.[1] ?? null,
      ext?.[2] ?? null,
      ext?.[3] ?? null,
    );
    db.prepare(
      `INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m)
       VALUES (?, 'geom', ?, 4326, 0, 0)`,
    ).run(layer.name, layer.geometryType);

    const names = layer.columns.map((c) => c.name);
    const insert = db.prepare(
      `INSERT INTO "${layer.name}" (geom${names.map((n) => `, "${n}"`).join('')}) VALUES (?${names.map(() => ', ?').join('')})`,
    );
    db.transaction(() => {
      for (const f of layer.features) {
        insert.run(gpkgGeometry(f.wkb, f.bbox), ...names.map((n) => f.properties[n] ?? null));
      }
    })();
    return db.serialize();
  } finally {
    db.close();
  }
}
