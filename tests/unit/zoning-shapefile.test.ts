import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  assemblePolygon,
  encodingFromCpg,
  isZip,
  readZippedShapefile,
} from '../../services/adapters/files/shapefile.ts';
import { SkypatrolError } from '../../services/core/errors.ts';
import { prjToEpsg } from '../../services/domain/zoning/prj.ts';

/** Fixtures made by ogr2ogr from parcels.geojson: see tests/fixtures/zones/README.md. */
const fixture = (name: string) =>
  new Uint8Array(readFileSync(resolve(import.meta.dirname, '../fixtures/zones', name)));
const source = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../fixtures/zones/parcels.geojson'), 'utf8'),
) as { features: { properties: Record<string, unknown> }[] };

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SkypatrolError ? `${err.code}: ${err.message}` : `not a SkypatrolError: ${err}`;
  }
  return 'no error';
}

const ring = (x0: number, y0: number, x1: number, y1: number, clockwise: boolean) => {
  const r = [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
    [x0, y0],
  ];
  return clockwise ? r.reverse() : r;
};

describe('readZippedShapefile', () => {
  it('reads GBK attributes without a .cpg (not UTF-8 → GB18030), DBF dates as YYYY-MM-DD', () => {
    const layer = readZippedShapefile(fixture('parcels-4547-gbk-nocpg.zip'), 'parcels.zip');
    expect(layer.encoding).toBe('gb18030');
    expect(layer.encodingSource).toBe('detected');
    expect(layer.features.map((f) => f.properties)).toEqual(source.features.map((f) => f.properties));
    expect(layer.features.map((f) => f.index)).toEqual([0, 1, 2]);
    expect(prjToEpsg(layer.prj!)).toMatchObject({ ok: true, epsg: 4547 });
  });

  it('reads UTF-8 attributes declared by the .cpg', () => {
    const layer = readZippedShapefile(fixture('parcels-4490-utf8.zip'), 'parcels.zip');
    expect(layer).toMatchObject({ encoding: 'utf-8', encodingSource: 'cpg', name: 'parcels.shp' });
    expect(layer.features[0]!.properties.holder).toBe('新巴尔虎右旗某砂石有限公司');
    expect(prjToEpsg(layer.prj!)).toMatchObject({ ok: true, epsg: 4490 });
  });

  it('rebuilds holes and an island inside a hole from ring orientation', () => {
    const [a, b, c] = readZippedShapefile(fixture('parcels-4490-utf8.zip'), 'parcels.zip').features.map(
      (f) => f.geometry as { type: string; coordinates: number[][][] | number[][][][] },
    );
    expect(a!.type).toBe('Polygon');
    expect(a!.coordinates).toHaveLength(2); // outer + hole
    expect(b!.type).toBe('MultiPolygon');
    expect((b!.coordinates as number[][][][]).map((p) => p.length)).toEqual([2, 1]); // frame with hole, island
    expect(c).toMatchObject({ type: 'Polygon' });
    expect(c!.coordinates).toHaveLength(1);
    // Coordinates are the CGCS2000 lon/lat ogr2ogr wrote, to the last digit stored.
    const first = (a!.coordinates as number[][][])[0]![0]!;
    expect(first[0]).toBeCloseTo(115.6, 9);
    expect(first[1]).toBeCloseTo(48.5, 9);
  });

  it('skips deleted DBF records, keeping the file numbering of the others', () => {
    const entries = unzipSync(fixture('parcels-4490-utf8.zip'));
    const dbf = entries['parcels.dbf']!.slice();
    const headerLength = dbf[8]! + 256 * dbf[9]!;
    dbf[headerLength] = 0x2a; // '*' marks record 0 deleted
    const layer = readZippedShapefile(zipSync({ ...entries, 'parcels.dbf': dbf }), 'x.zip');
    expect(layer.features.map((f) => f.index)).toEqual([1, 2]);
  });

  it('finds the layer in a sub-folder, ignoring macOS resource forks', () => {
    const entries = unzipSync(fixture('parcels-4490-utf8.zip'));
    const nested = Object.fromEntries(Object.entries(entries).map(([k, v]) => [`data/地块/${k}`, v]));
    const zip = zipSync({ ...nested, '__MACOSX/data/._parcels.shp': new Uint8Array(4) });
    expect(readZippedShapefile(zip, 'x.zip').features).toHaveLength(3);
  });

  it('rejects a zip without .shp, with two layers, without .dbf, and bytes that are not a zip', () => {
    const entries = unzipSync(fixture('parcels-4490-utf8.zip'));
    const { 'parcels.shp': _shp, ...noShp } = entries;
    expect(failure(() => readZippedShapefile(zipSync(noShp), 'a.zip'))).toMatch(
      /^ZONES_INVALID_FILE: a.zip: the zip holds no .shp file \(found: .*parcels.dbf/,
    );
    const two = zipSync({
      ...entries,
      'other.shp': entries['parcels.shp']!,
      'other.dbf': entries['parcels.dbf']!,
    });
    expect(failure(() => readZippedShapefile(two, 'b.zip'))).toMatch(
      /holds 2 Shapefiles .*one layer per file/,
    );
    const { 'parcels.dbf': _dbf, ...noDbf } = entries;
    expect(failure(() => readZippedShapefile(zipSync(noDbf), 'c.zip'))).toMatch(/has no .dbf/);
    expect(failure(() => readZippedShapefile(new Uint8Array([0x50, 0x4b, 3, 4, 9, 9, 9]), 'd.zip'))).toMatch(
      /^ZONES_INVALID_FILE: d.zip: not a readable zip archive/,
    );
  });

  it('rejects a truncated .shp and a .dbf whose record count disagrees', () => {
    const entries = unzipSync(fixture('parcels-4490-utf8.zip'));
    const shp = entries['parcels.shp']!;
    const cut = zipSync({ ...entries, 'parcels.shp': shp.slice(0, shp.length - 40) });
    expect(failure(() => readZippedShapefile(cut, 'e.zip'))).toMatch(/ZONES_INVALID_FILE: .*corrupt .shp/);
    const dbf = entries['parcels.dbf']!.slice();
    dbf[4] = 2; // declare 2 records instead of 3
    expect(failure(() => readZippedShapefile(zipSync({ ...entries, 'parcels.dbf': dbf }), 'f.zip'))).toMatch(
      /has 3 shapes but 2 attribute records/,
    );
  });

  it('recognises zip signatures', () => {
    expect(isZip(fixture('parcels-4490-utf8.zip'))).toBe(true);
    expect(isZip(new TextEncoder().encode('{"type":"FeatureCollection"}'))).toBe(false);
  });
});

describe('encodingFromCpg', () => {
  it.each([
    ['UTF-8', 'utf-8'],
    ['65001', 'utf-8'],
    ['CP936', 'gb18030'],
    ['GBK', 'gb18030'],
    ['ANSI 936', 'gb18030'],
    ['GB2312', 'gb18030'],
    ['88591', 'windows-1252'],
    ['Big5', 'big5'],
  ])('%s → %s', (cpg, label) => {
    expect(encodingFromCpg(cpg)).toBe(label);
  });
  it('returns undefined for code pages it cannot use', () => {
    expect(encodingFromCpg('SYSTEM')).toBeUndefined();
  });
});

describe('assemblePolygon (Shapefile ring orientation)', () => {
  it('makes clockwise rings outer rings and counter-clockwise rings their holes', () => {
    const g = assemblePolygon([ring(0, 0, 10, 10, true), ring(2, 2, 4, 4, false), ring(20, 0, 30, 10, true)]);
    expect(g).toEqual({
      type: 'MultiPolygon',
      coordinates: [[ring(0, 0, 10, 10, true), ring(2, 2, 4, 4, false)], [ring(20, 0, 30, 10, true)]],
    });
  });

  it('gives a hole to the smallest outer ring containing it (island in a lake)', () => {
    const g = assemblePolygon([
      ring(0, 0, 10, 10, true),
      ring(1, 1, 9, 9, false),
      ring(3, 3, 7, 7, true),
      ring(4, 4, 6, 6, false),
    ]) as { coordinates: number[][][][] };
    expect(g.coordinates.map((p) => p.length)).toEqual([2, 2]);
    expect(g.coordinates[1]![1]).toEqual(ring(4, 4, 6, 6, false));
  });

  it('keeps a hole outside every outer ring as a polygon of its own', () => {
    expect(assemblePolygon([ring(0, 0, 1, 1, false)])).toEqual({
      type: 'Polygon',
      coordinates: [ring(0, 0, 1, 1, false)],
    });
  });

  it('is exact with Gauss-Krüger eastings carrying a zone prefix', () => {
    const g = assemblePolygon([
      ring(38_500_000, 5_400_000, 38_500_010, 5_400_010, true),
      ring(38_500_002, 5_400_002, 38_500_004, 5_400_004, false),
    ]);
    expect(g).toMatchObject({ type: 'Polygon' });
    expect((g as { coordinates: unknown[] }).coordinates).toHaveLength(2);
  });
});
