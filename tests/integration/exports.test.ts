import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { rectRing } from '../support/geometry.ts';
import { buildTestApp } from '../support/test-app.ts';

let db: TestDatabase;
let app: FastifyInstance;
let dir: string;

const rect = (x: number, y: number, d: number) => rectRing(x, y, x + d, y + d);

async function insertClue(
  geom: object,
  p: { scenario: string; status: string; county?: string; date: string },
) {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, status, dismiss_reason, confidence, geom, area_m2, first_seen, last_seen, county_adcode, detector, model_version)
     SELECT $2, $3, CASE WHEN $3 = 'dismissed' THEN 'duplicate' END, 0.75, g, ST_Area(g::geography), $4::date - 30, $4, $5, 'test', '0.1.0'
       FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s RETURNING id`,
    [JSON.stringify(geom), p.scenario, p.status, p.date, p.county ?? null],
  );
  return rows[0]!.id;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skypatrol-exports-'));
  db = await createTestDatabase();
  await db.pool.query(
    `INSERT INTO zones (kind, properties, geom) VALUES
       ('admin_division', '{"name":"陈巴尔虎旗","adcode":"150725","level":"county"}', ST_Multi(ST_MakeEnvelope(118, 48, 120, 50, 4326))),
       ('admin_division', '{"name":"新巴尔虎右旗","adcode":"150727","level":"county"}', ST_Multi(ST_MakeEnvelope(116, 47, 118, 50, 4326)))`,
  );
  // A polygon with a hole, a two-part multipolygon, a plain square, one outside every county.
  await insertClue(
    { type: 'MultiPolygon', coordinates: [[rect(119, 49, 0.01), rect(119.004, 49.004, 0.002).reverse()]] },
    { scenario: 'black-soil', status: 'confirmed', county: '150725', date: '2025-07-01' },
  );
  await insertClue(
    { type: 'MultiPolygon', coordinates: [[rect(117, 48, 0.005)], [rect(117.01, 48.01, 0.003)]] },
    { scenario: 'mine', status: 'new', date: '2025-06-15' }, // county found spatially: 150727
  );
  await insertClue(
    { type: 'MultiPolygon', coordinates: [[rect(119.5, 49.5, 0.002)]] },
    { scenario: 'grassland', status: 'dismissed', county: '150725', date: '2025-05-01' },
  );
  await insertClue(
    { type: 'MultiPolygon', coordinates: [[rect(125, 45, 0.002)]] },
    { scenario: '=HYPERLINK("x")', status: 'new', date: '2025-05-01' },
  );
  app = await buildTestApp(db.url, db.pool);
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Minimal RFC 4180 parser (quotes, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field.replace(/\r$/, ''));
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

async function dbClues() {
  const { rows } = await db.pool.query(
    `SELECT id, scenario, status, area_m2, area_ha, area_mu, first_seen, last_seen,
            ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat, ST_AsGeoJSON(geom) AS g FROM clues ORDER BY id`,
  );
  return rows;
}

describe('exports', () => {
  it('CSV: UTF-8 BOM, the columns, areas in m²/ha/mu, county names in Chinese, centroids', async () => {
    const r = await app.inject('/exports/clues.csv');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toMatch(/^attachment; filename="clues-\d{8}\.csv"$/);
    const raw = r.rawPayload;
    expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(raw.subarray(3).toString('utf8'));
    const [header, ...data] = rows;
    expect(header).toEqual([
      'id',
      'scenario',
      'status',
      'confidence',
      'area_m2',
      'area_ha',
      'area_mu',
      'first_seen',
      'last_seen',
      'county',
      'county_adcode',
      'centroid_lon',
      'centroid_lat',
    ]);
    const expected = await dbClues();
    expect(data).toHaveLength(expected.length);
    for (const [i, e] of expected.entries()) {
      const row = data[i]!;
      expect(Number(row[0])).toBe(e.id);
      expect(Number(row[4])).toBeCloseTo(e.area_m2, 1);
      expect(Number(row[5])).toBeCloseTo(e.area_ha, 5);
      expect(Number(row[6])).toBeCloseTo(e.area_mu, 3);
      expect(Number(row[6])).toBeCloseTo((Number(row[4]) * 15) / 10000, 2);
      expect(row[7]).toBe(e.first_seen);
      expect(Number(row[11])).toBeCloseTo(e.lon, 6);
      expect(Number(row[12])).toBeCloseTo(e.lat, 6);
    }
    expect(data[0]![9]).toBe('陈巴尔虎旗');
    expect(data[1]!.slice(9, 11)).toEqual(['新巴尔虎右旗', '150727']);
    expect(data[3]![9]).toBe('');
    // Spreadsheet formula injection is defused.
    expect(data[3]![1]).toBe(`'=HYPERLINK("x")`);
  });

  it('filters exports (scenario, status, county, dates, bbox)', async () => {
    const count = async (q: string) => {
      const r = await app.inject(`/exports/clues.geojson${q}`);
      expect(r.statusCode, q).toBe(200);
      return r.json().features.length as number;
    };
    expect(await count('')).toBe(4);
    expect(await count('?scenario=mine')).toBe(1);
    expect(await count('?status=new,confirmed')).toBe(3);
    expect(await count('?county=150725')).toBe(2);
    expect(await count('?county=150727')).toBe(1);
    expect(await count('?from=2025-06-10')).toBe(2);
    expect(await count('?bbox=118,48,120,50')).toBe(2);
    expect(await count('?limit=1')).toBe(1);
  });

  it('GeoJSON: a FeatureCollection with geometry and properties', async () => {
    const r = await app.inject('/exports/clues.geojson?scenario=black-soil');
    expect(r.headers['content-type']).toBe('application/geo+json; charset=utf-8');
    const fc = r.json();
    expect(fc.type).toBe('FeatureCollection');
    const f = fc.features[0];
    expect(f.geometry.type).toBe('MultiPolygon');
    expect(f.geometry.coordinates[0]).toHaveLength(2); // outer ring + hole
    expect(f.properties).toMatchObject({ scenario: 'black-soil', status: 'confirmed', county: '陈巴尔虎旗' });
  });

  it('KML: placemarks with polygons (holes, multi-parts) and Chinese names and descriptions', async () => {
    const r = await app.inject('/exports/clues.kml');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/vnd\.google-earth\.kml\+xml/);
    const doc = new DOMParser().parseFromString(r.body, 'text/xml');
    const pms = doc.getElementsByTagName('Placemark');
    expect(pms.length).toBe(4);
    const first = pms[0]!;
    expect(first.getElementsByTagName('name')[0]!.textContent).toMatch(/^线索 \d+ · 破坏黑土地$/);
    const desc = first.getElementsByTagName('description')[0]!.textContent!;
    expect(desc).toContain('状态：已确认');
    expect(desc).toMatch(/面积：[\d.]+ 亩（[\d.]+ 公顷，[\d.]+ 平方米）/);
    expect(desc).toContain('所属区县：陈巴尔虎旗');
    expect(first.getElementsByTagName('innerBoundaryIs').length).toBe(1);
    const coords = first
      .getElementsByTagName('outerBoundaryIs')[0]!
      .getElementsByTagName('coordinates')[0]!
      .textContent!.trim()
      .split(' ');
    expect(coords).toHaveLength(5);
    expect(coords[0]).toBe('119,49');
    expect(pms[1]!.getElementsByTagName('MultiGeometry').length).toBe(1);
    expect(pms[1]!.getElementsByTagName('Polygon').length).toBe(2);
    // The formula-looking scenario is escaped XML, not markup.
    expect(pms[3]!.getElementsByTagName('name')[0]!.textContent).toContain('=HYPERLINK("x")');
  });

  it('GeoPackage: valid for ogrinfo, layer clues in EPSG:4326 with every feature and attribute', async () => {
    const r = await app.inject('/exports/clues.gpkg');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/geopackage+sqlite3');
    const file = join(dir, 'clues.gpkg');
    writeFileSync(file, r.rawPayload);
    const info = execFileSync('ogrinfo', ['-ro', '-so', file, 'clues'], { encoding: 'utf8' });
    expect(info).toMatch(/Layer name: clues/);
    expect(info).toMatch(/Geometry: Multi Polygon/);
    expect(info).toMatch(/Feature Count: 4/);
    expect(info).toMatch(/ID\["EPSG",4326\]|AUTHORITY\["EPSG","4326"\]/);
    expect(info).toMatch(/county: String/);
    const json = JSON.parse(
      execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', file, 'clues'], { encoding: 'utf8' }),
    );
    const expected = await dbClues();
    expect(json.features).toHaveLength(expected.length);
    for (const [i, e] of expected.entries()) {
      const f = json.features[i];
      expect(f.properties.clue_id).toBe(e.id);
      expect(f.properties.area_mu).toBeCloseTo(e.area_mu, 6);
      expect(f.properties.first_seen).toBe(e.first_seen);
      const g = JSON.parse(e.g);
      expect(f.geometry.type).toBe('MultiPolygon');
      expect(f.geometry.coordinates.flat(3)).toEqual(g.coordinates.flat(3));
    }
    expect(json.features[0].properties.county).toBe('陈巴尔虎旗');
    // GDAL's own validation of the SQLite/GPKG structure: no warnings on a full read.
    const check = execFileSync('ogrinfo', ['-ro', '-al', '-q', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(check).toContain('MULTIPOLYGON');
  });

  it('an empty filter result is a valid empty file', async () => {
    const r = await app.inject('/exports/clues.gpkg?scenario=none');
    const file = join(dir, 'empty.gpkg');
    writeFileSync(file, r.rawPayload);
    expect(execFileSync('ogrinfo', ['-ro', '-so', file, 'clues'], { encoding: 'utf8' })).toMatch(
      /Feature Count: 0/,
    );
    const csv = await app.inject('/exports/clues.csv?scenario=none');
    expect(parseCsv(csv.rawPayload.subarray(3).toString('utf8'))).toHaveLength(1);
  });

  it('rejects bad input with 4xx and a code', async () => {
    for (const u of [
      '/exports/clues.shp',
      '/exports/clues.csv?bbox=1,2,3',
      '/exports/clues.csv?bbox=0,0,1,1;DROP',
      `/exports/clues.csv?scenario=${encodeURIComponent("x' OR '1'='1")}`,
      `/exports/clues.csv?county=${encodeURIComponent('150725 OR 1=1')}`,
      '/exports/clues.csv?limit=0',
      '/exports/clues.csv?limit=1000001',
      '/exports/clues.kml?status=deleted',
      '/exports/..%2F..%2Fetc%2Fpasswd',
    ]) {
      const r = await app.inject(u);
      expect(r.statusCode, u).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, u).toBeLessThan(500);
      expect(r.json().code, u).toMatch(/^(VALIDATION|NOT_FOUND)$/);
    }
  });
});
