import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  registerZonesCommands,
  zonesImportCommand,
  zonesListCommand,
} from '../../services/apps/cli/commands/zones.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { SkypatrolError } from '../../services/core/errors.ts';
import { LAYER_SPECS, ZONE_KINDS, type ZoneKind } from '../../services/domain/zoning/layers.ts';
import { type ImportZonesOptions, importZones } from '../../services/usecases/import-zones.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, SHARED_DATA } from '../support/shared-data.ts';

/**
 * `zones import` against real PostGIS. Shapefiles are made here by ogr2ogr from GeoJSON written by
 * the test (GDAL is a test dependency only), then zipped; rows are counted before and after every
 * rejected import to prove that nothing was written.
 */
let db: TestDatabase;
let config: Config;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  config = loadConfig({ DATABASE_URL: db.url, SKYPATROL_LOG_LEVEL: 'silent' });
  dir = mkdtempSync(join(tmpdir(), 'skypatrol-zones-'));
});
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

type Geometry = { type: string; coordinates: unknown };
type Props = Record<string, unknown>;

/** Counter-clockwise square [lon0, lat0]–[lon0+size, lat0+size]. */
const square = (lon: number, lat: number, size = 0.01): Geometry => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + size, lat],
      [lon + size, lat + size],
      [lon, lat + size],
      [lon, lat],
    ],
  ],
});
const feature = (properties: Props, geometry: Geometry | null) => ({ type: 'Feature', properties, geometry });
const collection = <F>(features: F[], extra: Record<string, unknown> = {}) => ({
  type: 'FeatureCollection',
  ...extra,
  features,
});

let seq = 0;
function writeJson(name: string, doc: unknown): string {
  const path = join(dir, `${++seq}-${name}`);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

/**
 * GeoJSON (EPSG:4326) → Shapefile in `epsg` by ogr2ogr → zip. `encoding` is the DBF code page
 * (CP936 = GBK); `drop` leaves parts out of the zip (e.g. 'cpg', 'shp'); `prj` replaces the .prj.
 */
function shapefileZip(
  name: string,
  doc: unknown,
  opts: { epsg: number; encoding?: string; drop?: string[]; prj?: string },
): string {
  const src = writeJson(`${name}.geojson`, doc);
  const out = join(dir, `${seq}-${name}-shp`);
  mkdirSync(out);
  execFileSync(
    'ogr2ogr',
    [
      '-f',
      'ESRI Shapefile',
      '-lco',
      `ENCODING=${opts.encoding ?? 'UTF-8'}`,
      '-s_srs',
      'EPSG:4326',
      '-t_srs',
      `EPSG:${opts.epsg}`,
      join(out, `${name}.shp`),
      src,
    ],
    { stdio: 'pipe' },
  );
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(out)) {
    const ext = f.split('.').pop()!;
    if (opts.drop?.includes(ext)) continue;
    files[f] = new Uint8Array(readFileSync(join(out, f)));
  }
  if (opts.prj !== undefined) files[`${name}.prj`] = new TextEncoder().encode(opts.prj);
  const zip = join(dir, `${seq}-${name}.zip`);
  writeFileSync(zip, zipSync(files));
  return zip;
}

/** ogr2ogr's own reading of a zipped Shapefile, reprojected to EPSG:4326, as GeoJSON geometries. */
function ogrToWgs84(zip: string): Geometry[] {
  const out = join(dir, `${++seq}-ogr.geojson`);
  execFileSync('ogr2ogr', ['-f', 'GeoJSON', '-t_srs', 'EPSG:4326', out, `/vsizip/${zip}`], { stdio: 'pipe' });
  return (JSON.parse(readFileSync(out, 'utf8')) as { features: { geometry: Geometry }[] }).features.map(
    (f) => f.geometry,
  );
}

async function counts(): Promise<{ zones: number; imports: number }> {
  const { rows } = await db.pool.query<{ zones: number; imports: number }>(
    'SELECT (SELECT count(*)::int FROM zones) AS zones, (SELECT count(*)::int FROM zone_imports) AS imports',
  );
  return rows[0]!;
}

const run = (opts: ImportZonesOptions) => importZones(db.pool, opts);

/** The import fails with `code` and a message matching `message`, and writes nothing. */
async function expectRejected(
  opts: ImportZonesOptions,
  code: string,
  message: RegExp,
): Promise<SkypatrolError> {
  const before = await counts();
  const err = await run(opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SkypatrolError);
  const e = err as SkypatrolError;
  expect(`${e.code}: ${e.message}`).toMatch(new RegExp(`^${code}: `));
  expect(e.message).toMatch(message);
  expect(e.message).not.toContain('\n');
  expect(await counts()).toEqual(before);
  return e;
}

/** Max distance in metres between two EPSG:4326 geometries (Hausdorff, measured in GK CM 114E). */
async function metresApart(a: Geometry | string, b: Geometry | string, epsg = 4547): Promise<number> {
  const g = (x: Geometry | string) => (typeof x === 'string' ? x : JSON.stringify(x));
  const { rows } = await db.pool.query<{ d: number }>(
    `SELECT ST_HausdorffDistance(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), $3::int),
                                 ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($2), 4326), $3::int), 0.1) AS d`,
    [g(a), g(b), epsg],
  );
  return rows[0]!.d;
}

async function zonesOf(importId: number): Promise<{ properties: Props; geojson: string; valid: boolean }[]> {
  const { rows } = await db.pool.query(
    `SELECT properties, ST_AsGeoJSON(geom, 12) AS geojson, ST_IsValid(geom) AS valid
     FROM zones WHERE import_id = $1 ORDER BY id`,
    [importId],
  );
  return rows;
}

/** Properties that satisfy each kind's contract, including its optional ones. */
const SAMPLE: Record<ZoneKind, Props> = {
  temporary_land_permit: {
    permit_no: '临字〔2024〕第001号',
    reclaim_by: '2025-06-30',
    holder: '某砂石有限公司',
    valid_from: '2023-07-01',
    valid_to: '2025-06-30',
    purpose: '临时堆场',
  },
  mining_permit: {
    permit_no: 'C1507002010067120071234',
    valid_to: '2027-12-31',
    holder: '某矿业公司',
    valid_from: '2017-12-31',
    mineral: '褐煤',
  },
  forest_land: { name: '红花尔基林场', code: 'LD-001' },
  black_soil_zone: { name: '阿荣旗黑土地保护区', code: 'HT-07' },
  river_management_area: { name: '海拉尔河管理范围', river: '海拉尔河' },
  grassland: { name: '陈巴尔虎草原', code: 'CY-12' },
  lake_protection_zone: { name: '呼伦湖保护区' },
  wetland_reserve: { name: '额尔古纳湿地', level: '国家级' },
  admin_division: { name: '海拉尔区', adcode: '150702', level: 'county' },
};

// ---------------------------------------------------------------------------------------------

describe('zones import: GeoJSON', () => {
  it.each(ZONE_KINDS)('imports a %s layer with its contract properties', async (kind) => {
    const file = writeJson(
      `${kind}.geojson`,
      collection([
        feature(SAMPLE[kind], square(120, 49)),
        feature({ ...SAMPLE[kind], extra: 42 }, square(120.02, 49)),
      ]),
    );
    const r = await run({ file, kind });
    expect(r).toMatchObject({
      kind,
      format: 'geojson',
      features: 2,
      repaired: 0,
      replaced: 0,
      srs: 'EPSG:4326',
    });
    expect(r.srsSource).toBe('GeoJSON default');
    const rows = await zonesOf(r.importId);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.properties).toEqual(SAMPLE[kind]);
    expect(rows[1]!.properties).toEqual({ ...SAMPLE[kind], extra: 42 });
    expect(await metresApart(rows[0]!.geojson, square(120, 49))).toBeLessThan(1e-6);
    const imp = await db.pool.query(
      'SELECT kind, file, features, repaired, srs FROM zone_imports WHERE id = $1',
      [r.importId],
    );
    expect(imp.rows[0]).toEqual({ kind, file: resolve(file), features: 2, repaired: 0, srs: 'EPSG:4326' });
    for (const p of LAYER_SPECS[kind].required) expect(rows[0]!.properties[p.name]).toBeTruthy();
  });

  it('stores MultiPolygons with counter-clockwise exterior rings from clockwise input', async () => {
    const cw = square(121, 49);
    (cw.coordinates as number[][][])[0]!.reverse();
    const r = await run({ file: writeJson('cw.geojson', collection([feature({}, cw)])), kind: 'grassland' });
    const { rows } = await db.pool.query(
      'SELECT GeometryType(geom) AS t, ST_IsPolygonCCW(geom) AS ccw FROM zones WHERE import_id = $1',
      [r.importId],
    );
    expect(rows).toEqual([{ t: 'MULTIPOLYGON', ccw: true }]);
  });

  it('honours a legacy crs member naming CGCS2000 (urn:ogc:def:crs:EPSG::4490)', async () => {
    const file = writeJson(
      'crs4490.geojson',
      collection([feature({ name: '呼伦湖' }, square(117.4, 48.9))], {
        crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4490' } },
      }),
    );
    const r = await run({ file, kind: 'lake_protection_zone' });
    expect(r).toMatchObject({ srs: 'EPSG:4490', srsSource: 'crs member', features: 1 });
    // CGCS2000 and WGS 84 coincide at this scale: the coordinates are kept.
    expect(await metresApart((await zonesOf(r.importId))[0]!.geojson, square(117.4, 48.9))).toBeLessThan(
      1e-6,
    );
  });

  it('reprojects a Gauss-Krüger GeoJSON (crs member written by ogr2ogr) to within 1 m of the source', async () => {
    const src = writeJson(
      'gk-src.geojson',
      collection([feature({ name: '草场' }, square(114.3, 41.2, 0.02))]),
    );
    const gk = join(dir, `${++seq}-gk.geojson`);
    execFileSync('ogr2ogr', ['-f', 'GeoJSON', '-lco', 'RFC7946=NO', '-t_srs', 'EPSG:4547', gk, src], {
      stdio: 'pipe',
    });
    expect(readFileSync(gk, 'utf8')).toContain('urn:ogc:def:crs:EPSG::4547');
    const r = await run({ file: gk, kind: 'grassland' });
    expect(r).toMatchObject({ srs: 'EPSG:4547', srsSource: 'crs member' });
    expect(
      await metresApart((await zonesOf(r.importId))[0]!.geojson, square(114.3, 41.2, 0.02)),
    ).toBeLessThan(1);
  });

  it('--srs overrides: Gauss-Krüger coordinates without a crs member import with --srs EPSG:4547 only', async () => {
    const src = writeJson('gk2-src.geojson', collection([feature({}, square(114.5, 41.5, 0.02))]));
    const gk = join(dir, `${++seq}-gk2.geojson`);
    execFileSync('ogr2ogr', ['-f', 'GeoJSON', '-lco', 'RFC7946=NO', '-t_srs', 'EPSG:4547', gk, src], {
      stdio: 'pipe',
    });
    const doc = JSON.parse(readFileSync(gk, 'utf8'));
    delete doc.crs;
    const bare = writeJson('gk-bare.geojson', doc);
    await expectRejected(
      { file: bare, kind: 'forest_land' },
      'ZONES_INVALID_GEOMETRY',
      /feature 0: coordinates .* are not longitude\/latitude in EPSG:4326; projected data needs --srs/,
    );
    const r = await run({ file: bare, kind: 'forest_land', srs: 'EPSG:4547' });
    expect(r).toMatchObject({ srs: 'EPSG:4547', srsSource: '--srs' });
    expect(
      await metresApart((await zonesOf(r.importId))[0]!.geojson, square(114.5, 41.5, 0.02)),
    ).toBeLessThan(1);
    // …and --srs beats a crs member too.
    const wrong = writeJson('gk-wrongcrs.geojson', {
      ...doc,
      crs: { type: 'name', properties: { name: 'EPSG:4326' } },
    });
    expect(await run({ file: wrong, kind: 'forest_land', srs: 'EPSG:4547' })).toMatchObject({
      srs: 'EPSG:4547',
    });
  });

  it('repairs a bowtie with ST_MakeValid into two triangles and counts it', async () => {
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        [
          [122, 49],
          [122.01, 49.01],
          [122.01, 49],
          [122, 49.01],
          [122, 49],
        ],
      ],
    };
    const file = writeJson(
      'bowtie.geojson',
      collection([feature({}, square(122.1, 49)), feature({}, bowtie)]),
    );
    const r = await run({ file, kind: 'wetland_reserve' });
    expect(r).toMatchObject({ features: 2, repaired: 1 });
    const { rows } = await db.pool.query(
      `SELECT ST_NumGeometries(geom) AS parts, ST_IsValid(geom) AS valid, ST_Area(geom::geography) AS m2
       FROM zones WHERE import_id = $1 ORDER BY id`,
      [r.importId],
    );
    expect(rows[1]).toMatchObject({ parts: 2, valid: true });
    expect(rows[1].m2).toBeGreaterThan(0.4 * rows[0].m2); // the two triangles: half the square's area
    const imp = await db.pool.query('SELECT repaired FROM zone_imports WHERE id = $1', [r.importId]);
    expect(imp.rows[0].repaired).toBe(1);
  });
});

describe('zones import: zipped Shapefiles', () => {
  const PERMITS = collection([
    feature(
      {
        permit_no: '临字〔2024〕第001号',
        reclaim_by: '2025-06-30',
        holder: '新巴尔虎右旗某砂石有限公司',
        purpose: '临时堆场',
      },
      {
        type: 'Polygon',
        coordinates: [
          (square(114.2, 40.5, 0.02).coordinates as number[][][])[0],
          (square(114.205, 40.505, 0.005).coordinates as number[][][])[0]!.slice().reverse(),
        ],
      },
    ),
    feature(
      {
        permit_no: '临字〔2024〕第002号',
        reclaim_by: '2026-01-15',
        holder: '满洲里市某建筑公司',
        purpose: '施工便道',
      },
      {
        type: 'MultiPolygon',
        coordinates: [square(114.3, 40.5).coordinates, square(114.32, 40.5).coordinates],
      },
    ),
  ]);

  /** Each stored zone lies within 1 m of the source polygon and of ogr2ogr's own reprojection. */
  async function checkPlacement(zip: string, importId: number, { ogr = true } = {}) {
    const ours = await zonesOf(importId);
    const src = PERMITS.features.map((f) => f.geometry as Geometry);
    expect(ours).toHaveLength(src.length);
    const theirs = ogr ? ogrToWgs84(zip) : [];
    for (let i = 0; i < src.length; i++) {
      expect(ours[i]!.valid).toBe(true);
      expect(await metresApart(ours[i]!.geojson, src[i]!)).toBeLessThan(1);
      if (ogr) expect(await metresApart(ours[i]!.geojson, theirs[i]!)).toBeLessThan(1);
    }
  }

  it('imports EPSG:4490 with GBK (CP936) attributes declared by the .cpg', async () => {
    const zip = shapefileZip('permits4490', PERMITS, { epsg: 4490, encoding: 'CP936' });
    const r = await run({ file: zip, kind: 'temporary_land_permit' });
    expect(r).toMatchObject({
      format: 'shapefile',
      features: 2,
      repaired: 0,
      srs: 'EPSG:4490',
      srsSource: '.prj',
    });
    expect(r.encoding).toBe('gb18030 (cpg)');
    const rows = await zonesOf(r.importId);
    expect(rows.map((z) => z.properties)).toEqual(PERMITS.features.map((f) => f.properties));
    await checkPlacement(zip, r.importId);
  });

  it('imports EPSG:4547 (GK CM 114E) with GBK attributes and no .cpg, within 1 m of ogr2ogr', async () => {
    const zip = shapefileZip('permits4547', PERMITS, { epsg: 4547, encoding: 'CP936', drop: ['cpg'] });
    const r = await run({ file: zip, kind: 'temporary_land_permit' });
    expect(r).toMatchObject({
      features: 2,
      srs: 'EPSG:4547',
      srsSource: '.prj',
      encoding: 'gb18030 (detected)',
    });
    const rows = await zonesOf(r.importId);
    expect(rows[0]!.properties).toMatchObject({
      permit_no: '临字〔2024〕第001号',
      holder: '新巴尔虎右旗某砂石有限公司',
    });
    expect(rows[1]!.properties.reclaim_by).toBe('2026-01-15');
    await checkPlacement(zip, r.importId);
  });

  it.each([
    [4526, 'GK zone 38, prefixed false easting'],
    [32650, 'WGS 84 / UTM 50N'],
  ])('imports EPSG:%i (%s) within 1 m of ogr2ogr', async (epsg) => {
    const zip = shapefileZip(`permits${epsg}`, PERMITS, { epsg });
    const r = await run({ file: zip, kind: 'temporary_land_permit' });
    expect(r).toMatchObject({ srs: `EPSG:${epsg}`, encoding: 'utf-8 (cpg)' });
    await checkPlacement(zip, r.importId);
  });

  it('--srs overrides an unknown .prj', async () => {
    const zip = shapefileZip('permits-beijing', PERMITS, {
      epsg: 4547,
      prj: 'PROJCS["Beijing_1954_3_Degree_GK_CM_114E",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]',
    });
    await expectRejected(
      { file: zip, kind: 'temporary_land_permit' },
      'ZONES_UNKNOWN_SRS',
      /the .prj CRS "Beijing_1954_3_Degree_GK_CM_114E" is not supported: datum "D_Beijing_1954" is neither WGS 84 nor CGCS2000/,
    );
    const r = await run({ file: zip, kind: 'temporary_land_permit', srs: 'EPSG:4547' });
    expect(r).toMatchObject({ srs: 'EPSG:4547', srsSource: '--srs', features: 2 });
    // ogr2ogr would honour the (wrong) Beijing 1954 .prj: compare with the source only.
    await checkPlacement(zip, r.importId, { ogr: false });
  });
});

describe('zones import: rejections write nothing', () => {
  const ok = (i: number) =>
    feature({ permit_no: `T-${i}`, reclaim_by: '2025-06-30' }, square(120 + i / 50, 49));

  it('a feature lacking a required property: its index and the property', async () => {
    const file = writeJson(
      'missing.geojson',
      collection([ok(0), feature({ permit_no: 'T-1' }, square(120.1, 49)), ok(2)]),
    );
    const e = await expectRejected(
      { file, kind: 'temporary_land_permit' },
      'ZONES_MISSING_PROPERTY',
      /^\d+-missing\.geojson: feature 1: missing required property "reclaim_by"/,
    );
    expect(e.details).toMatchObject({ index: 1, property: 'reclaim_by' });
    expect(e.status).toBe(422);
  });

  it('a missing required property in a Shapefile (admin_division without adcode)', async () => {
    const zip = shapefileZip('divisions', collection([feature({ name: '海拉尔区' }, square(119.7, 49.2))]), {
      epsg: 4490,
    });
    await expectRejected(
      { file: zip, kind: 'admin_division' },
      'ZONES_MISSING_PROPERTY',
      /feature 0: .*"adcode"/,
    );
  });

  it('a bad date, with the feature index', async () => {
    const mine = (i: number, validTo: string) =>
      feature({ permit_no: `M-${i}`, valid_to: validTo, mineral: '褐煤' }, square(120 + i / 50, 49));
    const file = writeJson(
      'baddate.geojson',
      collection([mine(0, '2030-01-01'), mine(1, '2031-12-31'), mine(2, '2025-02-30')]),
    );
    const e = await expectRejected(
      { file, kind: 'mining_permit' },
      'ZONES_INVALID_PROPERTY',
      /feature 2: property "valid_to" is "2025-02-30", not an ISO 8601 date \(YYYY-MM-DD\)$/,
    );
    expect(e.details).toMatchObject({ index: 2, property: 'valid_to' });
    const file2 = writeJson(
      'baddate2.geojson',
      collection([ok(0), feature({ permit_no: 'T-1', reclaim_by: '30/06/2025' }, square(120.1, 49))]),
    );
    await expectRejected(
      { file: file2, kind: 'temporary_land_permit' },
      'ZONES_INVALID_PROPERTY',
      /feature 1: property "reclaim_by" is "30\/06\/2025", not an ISO 8601 date \(YYYY-MM-DD\)/,
    );
  });

  it('a non-polygon geometry', async () => {
    const file = writeJson(
      'line.geojson',
      collection([
        feature({}, square(120, 49)),
        feature(
          {},
          {
            type: 'LineString',
            coordinates: [
              [120, 49],
              [121, 49],
            ],
          },
        ),
      ]),
    );
    await expectRejected(
      { file, kind: 'river_management_area' },
      'ZONES_INVALID_GEOMETRY',
      /feature 1: geometry is a LineString, not a Polygon or MultiPolygon/,
    );
    await expectRejected(
      { file: writeJson('nogeom.geojson', collection([feature({}, null)])), kind: 'grassland' },
      'ZONES_INVALID_GEOMETRY',
      /feature 0: feature has no geometry/,
    );
  });

  it('a point Shapefile', async () => {
    const zip = shapefileZip(
      'points',
      collection([feature({ name: 'a' }, { type: 'Point', coordinates: [120, 49] })]),
      { epsg: 4490 },
    );
    await expectRejected(
      { file: zip, kind: 'grassland' },
      'ZONES_INVALID_GEOMETRY',
      /feature 0: geometry is a Point/,
    );
  });

  it('an unrepairable geometry (a degenerate ring with no area)', async () => {
    const flat = {
      type: 'Polygon',
      coordinates: [
        [
          [120, 49],
          [120.5, 49.5],
          [121, 50],
          [120, 49],
        ],
      ],
    };
    const file = writeJson('flat.geojson', collection([feature({}, square(120, 49)), feature({}, flat)]));
    const e = await expectRejected(
      { file, kind: 'forest_land' },
      'ZONES_INVALID_GEOMETRY',
      /feature 1: invalid geometry \(.+\) has no area left after repair/,
    );
    expect(e.details).toMatchObject({ index: 1 });
  });

  it('an unknown .prj, and a Shapefile without any', async () => {
    const zip = shapefileZip('xian80', collection([feature({}, square(114.2, 40.5))]), { epsg: 2383 });
    await expectRejected(
      { file: zip, kind: 'grassland' },
      'ZONES_UNKNOWN_SRS',
      /the .prj CRS ".*Xian.*" is not supported: datum .* is neither WGS 84 nor CGCS2000.*--srs EPSG:n.*supported: EPSG:4326/,
    );
    const noPrj = shapefileZip('noprj', collection([feature({}, square(114.2, 40.5))]), {
      epsg: 4490,
      drop: ['prj'],
    });
    await expectRejected(
      { file: noPrj, kind: 'grassland' },
      'ZONES_UNKNOWN_SRS',
      /has no .prj; .*--srs EPSG:n/,
    );
  });

  it('an unknown --srs and an unsupported crs member', async () => {
    const file = writeJson('plain.geojson', collection([feature({}, square(120, 49))]));
    await expectRejected(
      { file, kind: 'grassland', srs: 'EPSG:2435' },
      'ZONES_UNKNOWN_SRS',
      /EPSG:2435 is not supported/,
    );
    await expectRejected(
      { file, kind: 'grassland', srs: 'Beijing54' },
      'ZONES_UNKNOWN_SRS',
      /not an EPSG code/,
    );
    const crs = writeJson(
      'crs2154.geojson',
      collection([feature({}, square(120, 49))], {
        crs: { type: 'name', properties: { name: 'EPSG:2154' } },
      }),
    );
    await expectRejected({ file: crs, kind: 'grassland' }, 'ZONES_UNKNOWN_SRS', /"crs" member EPSG:2154/);
  });

  it('a zip without .shp', async () => {
    const zip = join(dir, `${++seq}-noshp.zip`);
    writeFileSync(
      zip,
      zipSync({ 'parcels.dbf': new Uint8Array(64), 'parcels.prj': new TextEncoder().encode('x') }),
    );
    await expectRejected(
      { file: zip, kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /the zip holds no .shp file/,
    );
  });

  it('a file that is not JSON, an empty file, a bare .shp, a missing file', async () => {
    await expectRejected(
      { file: writeJson('notjson.geojson', 'name,geom\nx,POLYGON((0 0))\n'), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /notjson.geojson: not JSON/,
    );
    await expectRejected(
      { file: writeJson('empty.geojson', ''), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /the file is empty/,
    );
    await expectRejected(
      { file: writeJson('empty-fc.geojson', collection([])), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /holds no features/,
    );
    await expectRejected(
      { file: writeJson('layer.zip', '{"type":"FeatureCollection"}'), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /layer.zip: not a zip archive/,
    );
    await expectRejected(
      { file: writeJson('layer.shp', 'binary'), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /must be imported as a .zip/,
    );
    await expectRejected(
      { file: join(dir, 'nope.geojson'), kind: 'grassland' },
      'ZONES_INVALID_FILE',
      /cannot read \(no such file\)/,
    );
  });

  it('an unknown layer kind', async () => {
    const file = writeJson('kind.geojson', collection([feature({}, square(120, 49))]));
    const e = await expectRejected(
      { file, kind: 'forest' },
      'ZONES_UNKNOWN_LAYER',
      /unknown layer kind "forest"; one of /,
    );
    expect(e.status).toBe(400);
  });
});

describe('zones import: --replace vs add', () => {
  const layer = (n: number, lon: number) =>
    collection(
      Array.from({ length: n }, (_, i) => feature({ name: `湖 ${lon}-${i}` }, square(lon + i / 50, 48))),
    );
  const lakeZones = async () =>
    (
      await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM zones WHERE kind = 'lake_protection_zone'",
      )
    ).rows[0]!.n;

  it('adds without --replace, replaces with it, and a failed --replace keeps the old layer', async () => {
    const base = await lakeZones();
    const others = (await counts()).zones - base;
    await run({ file: writeJson('lakes-a.geojson', layer(2, 117)), kind: 'lake_protection_zone' });
    await run({ file: writeJson('lakes-b.geojson', layer(3, 118)), kind: 'lake_protection_zone' });
    expect(await lakeZones()).toBe(base + 5);
    const r = await run({
      file: writeJson('lakes-c.geojson', layer(4, 119)),
      kind: 'lake_protection_zone',
      replace: true,
    });
    expect(r.replaced).toBe(base + 5);
    expect(await lakeZones()).toBe(4);
    expect((await counts()).zones - 4).toBe(others); // other kinds untouched
    const bad = collection([
      feature({}, square(120, 48)),
      feature({}, { type: 'Point', coordinates: [1, 2] }),
    ]);
    await expectRejected(
      { file: writeJson('lakes-bad.geojson', bad), kind: 'lake_protection_zone', replace: true },
      'ZONES_INVALID_GEOMETRY',
      /feature 1/,
    );
    expect(await lakeZones()).toBe(4);
    // A geometry only PostGIS rejects also rolls the whole --replace back.
    const flat = {
      type: 'Polygon',
      coordinates: [
        [
          [120, 48],
          [120.1, 48],
          [120.2, 48],
          [120, 48],
        ],
      ],
    };
    await expectRejected(
      {
        file: writeJson('lakes-flat.geojson', collection([feature({}, square(120, 48)), feature({}, flat)])),
        kind: 'lake_protection_zone',
        replace: true,
      },
      'ZONES_INVALID_GEOMETRY',
      /feature 1: .*no area/,
    );
    const { rows } = await db.pool.query(
      "SELECT DISTINCT import_id FROM zones WHERE kind = 'lake_protection_zone'",
    );
    expect(rows).toEqual([{ import_id: r.importId }]);
  });
});

describeShared('zones import: the real Hulunbuir counties', () => {
  const file = resolve(SHARED_DATA, 'geo/hulunbuir-counties.geojson');

  it('imports 14 counties (clockwise outer rings) as admin_division, ≈ 252,800 km² within 1 %', async () => {
    const r = await run({ file, kind: 'admin_division', replace: true });
    expect(r).toMatchObject({ features: 14, repaired: 0, srs: 'EPSG:4326' });
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n, sum(ST_Area(geom::geography)) / 1e6 AS km2, bool_and(ST_IsValid(geom)) AS valid,
              count(DISTINCT properties->>'adcode')::int AS adcodes
       FROM zones WHERE import_id = $1`,
      [r.importId],
    );
    expect(rows[0]).toMatchObject({ n: 14, valid: true, adcodes: 14 });
    expect(Math.abs(rows[0].km2 - 252_800) / 252_800).toBeLessThan(0.01);
  });

  it('gives the same areas and Chinese names through a GBK Shapefile in EPSG:4490', async () => {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { features: { properties: Props }[] };
    for (const f of doc.features) delete f.properties.center; // a list: not representable in a DBF
    const zip = shapefileZip('hulunbuir', doc, { epsg: 4490, encoding: 'CP936', drop: ['cpg'] });
    const r = await run({ file: zip, kind: 'admin_division', replace: true });
    expect(r).toMatchObject({ features: 14, srs: 'EPSG:4490', encoding: 'gb18030 (detected)' });
    const { rows } = await db.pool.query(
      `SELECT properties->>'name' AS name, ST_Area(geom::geography) / 1e6 AS km2 FROM zones WHERE import_id = $1 ORDER BY id`,
      [r.importId],
    );
    expect(rows.map((z) => z.name)).toEqual(doc.features.map((f) => f.properties.name));
    const total = rows.reduce((s, z) => s + z.km2, 0);
    expect(Math.abs(total - 252_800) / 252_800).toBeLessThan(0.01);
  });
});

describe('zones commands', () => {
  it('zonesImportCommand prints the report; zonesListCommand shows counts and the last import', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const file = writeJson('cmd.geojson', collection([feature({ name: '黑土区' }, square(123.4, 48.1))]));
      const r = await zonesImportCommand(config, file, { layer: 'black_soil_zone' });
      const printed = log.mock.calls.map((c) => c.join(' ')).join('\n');
      expect(printed).toContain(`import ${r.importId}: black_soil_zone from ${resolve(file)}`);
      expect(printed).toMatch(/features imported: 1\n\s+repaired:\s+0\n\s+SRS:\s+EPSG:4326/);
      log.mockClear();
      const layers = await zonesListCommand(config);
      const black = layers.find((l) => l.kind === 'black_soil_zone')!;
      expect(black.lastImport).toMatchObject({ id: r.importId, features: 1, srs: 'EPSG:4326' });
      const listed = log.mock.calls.map((c) => c.join(' ')).join('\n');
      expect(listed.split('\n')).toHaveLength(ZONE_KINDS.length);
      expect(listed).toMatch(
        new RegExp(`black_soil_zone\\s+${black.zones} zone\\(s\\)\\s+last import ${r.importId}`),
      );
    } finally {
      log.mockRestore();
    }
  });

  it('registerZonesCommands wires `zones import` and `zones list` into a commander program', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const cli = new Command('skypatrol').exitOverride();
      registerZonesCommands(cli, () => config);
      const file = writeJson('wired.geojson', collection([feature({}, square(121.5, 50.1))]));
      await cli.parseAsync(['zones', 'import', file, '--layer', 'forest_land', '--replace'], {
        from: 'user',
      });
      expect(log.mock.calls.flat().join('\n')).toMatch(/features imported: 1/);
      const forest = await db.pool.query("SELECT count(*)::int AS n FROM zones WHERE kind = 'forest_land'");
      expect(forest.rows[0].n).toBe(1);
      await expect(
        cli.parseAsync(['zones', 'import', file, '--layer', 'nope'], { from: 'user' }),
      ).rejects.toMatchObject({ code: 'ZONES_UNKNOWN_LAYER' });
      log.mockClear();
      await cli.parseAsync(['zones', 'list', '--json'], { from: 'user' });
      expect(JSON.parse(String(log.mock.calls[0]![0]))).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'forest_land', zones: 1 })]),
      );
    } finally {
      log.mockRestore();
    }
  });
});

// Runs the real `skypatrol` process: passes once main.ts calls registerZonesCommands(cli, loadConfig).
describe('zones CLI process (needs registerZonesCommands in services/apps/cli/main.ts)', () => {
  it('imports with exit 0 and a report; fails with one line `skypatrol: CODE: message` and exit 1', async () => {
    const env = { DATABASE_URL: db.url };
    const good = writeJson(
      'cli-ok.geojson',
      collection([feature({ name: '某湿地', level: '省级' }, square(124, 50))]),
    );
    const ok = await runCli(['zones', 'import', good, '--layer', 'wetland_reserve'], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^import \d+: wetland_reserve from .*\n\s+features imported: 1\n\s+repaired:\s+0\n\s+SRS:\s+EPSG:4326/,
    );
    const before = await counts();
    const bad = writeJson(
      'cli-bad.geojson',
      collection([
        feature({ permit_no: 'T-0', reclaim_by: '2025-06-30' }, square(120, 49)),
        feature({}, square(120.1, 49)),
      ]),
    );
    const r = await runCli(['zones', 'import', bad, '--layer', 'temporary_land_permit'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^skypatrol: ZONES_MISSING_PROPERTY: \d+-cli-bad\.geojson: feature 1: missing required property "permit_no"[^\n]*\n$/,
    );
    expect(await counts()).toEqual(before);
    const list = await runCli(['zones', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/wetland_reserve\s+\d+ zone\(s\)\s+last import \d+/);
  });
});
