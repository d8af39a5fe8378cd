import { booleanIntersects, booleanPointInPolygon, point, polygon } from '@turf/turf';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import {
  type AnalysisTile,
  type AoiGeometry,
  formatTileId,
  parseTileId,
  tileAt,
  tileById,
  tileForLonLat,
  tileIdsForAoi,
  tileSpanM,
  tilesForAoi,
} from '../../services/domain/geo/analysis-grid.ts';
import { fromLonLatFn } from '../../services/domain/geo/crs.ts';

function box(w: number, s: number, e: number, n: number): AoiGeometry {
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}

/** Index of tiles by their lon/lat bounds, for point-in-some-tile checks. */
function coveringTiles(tiles: AnalysisTile[], lon: number, lat: number): AnalysisTile[] {
  return tiles.filter((t) => {
    const [w, s, e, n] = t.boundsLonLat;
    if (lon < w || lon > e || lat < s || lat > n) return false;
    return booleanPointInPolygon(point([lon, lat]), polygon([t.polygonLonLat]));
  });
}

/** A concave AOI straddling 120°E (zones 50N/51N), with a notch. */
const STRADDLING: AoiGeometry = {
  type: 'Polygon',
  coordinates: [
    [
      [119.3, 49.0],
      [120.9, 49.1],
      [120.7, 49.9],
      [120.05, 49.35],
      [119.9, 49.95],
      [119.2, 49.7],
      [119.3, 49.0],
    ],
  ],
};

describe('tile ids', () => {
  it('formats zone, hemisphere, column and row with 4-digit padding', () => {
    expect(formatTileId(50, 'N', 48, 517)).toBe('50N-0048-0517');
    expect(formatTileId(7, 'S', 3, 9)).toBe('07S-0003-0009');
  });

  it('writes indices beyond 9999 in full and parses them back', () => {
    expect(formatTileId(50, 'N', 12, 12345)).toBe('50N-0012-12345');
    expect(parseTileId('50N-0012-12345')).toEqual({ zone: 50, hemisphere: 'N', col: 12, row: 12345 });
  });

  it('rejects non-canonical spellings and negative indices', () => {
    for (const bad of ['50N-048-0517', '50N-00048-0517', '50n-0048-0517', '61N-0001-0001', '50N-0048--001']) {
      expect(() => parseTileId(bad)).toThrow(RangeError);
    }
    expect(() => formatTileId(50, 'N', -1, 3)).toThrow(RangeError);
  });

  it('gives the same id for the same point every time, and that tile contains the point', () => {
    const a = tileForLonLat(117.3, 47.85);
    const b = tileForLonLat(117.3, 47.85);
    expect(a.id).toBe(b.id);
    const [x, y] = fromLonLatFn(32650)!(117.3, 47.85);
    expect(a.id).toBe(formatTileId(50, 'N', Math.floor(x / 10_240), Math.floor(y / 10_240)));
  });

  it('round-trips every tile of an AOI through tileById', () => {
    for (const t of tilesForAoi(STRADDLING)) expect(tileById(t.id)).toEqual(t);
  });
});

describe('tile geometry', () => {
  it('is a north-up 1024 px grid of 10 m pixels with its origin at the top-left', () => {
    const t = tileById('50N-0048-0517');
    expect(t.epsg).toBe(32650);
    expect(t.grid).toEqual({
      epsg: 32650,
      width: 1024,
      height: 1024,
      originX: 48 * 10_240,
      originY: 518 * 10_240,
      resX: 10,
      resY: 10,
    });
  });

  it('honours a configured tile size', () => {
    const t = tileById('50N-0048-0517', { tileSizePx: 512 });
    expect(tileSpanM({ tileSizePx: 512 })).toBe(5120);
    expect(t.grid.width).toBe(512);
    expect(t.grid.originY).toBe(518 * 5120);
  });

  it('uses an EPSG:327xx grid for southern tiles', () => {
    const t = tileForLonLat(117.2, -30.5);
    expect(t.id.slice(0, 3)).toBe('50S');
    expect(t.epsg).toBe(32750);
  });

  it('has a closed counter-clockwise densified ring inside its lon/lat bounds', () => {
    const t = tileById('50N-0048-0517');
    const ring = t.polygonLonLat;
    expect(ring.length).toBeGreaterThan(5 + 4 * 4);
    expect(ring[0]).toEqual(ring.at(-1));
    let twiceArea = 0;
    for (let i = 0; i + 1 < ring.length; i++) {
      twiceArea += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
    }
    expect(twiceArea).toBeGreaterThan(0);
    const [w, s, e, n] = t.boundsLonLat;
    for (const [lon, lat] of ring) {
      expect(lon >= w && lon <= e && lat >= s && lat <= n).toBe(true);
    }
  });

  it('shares edges exactly with its east and north neighbours (also across the central meridian)', () => {
    const edge = (t: AnalysisTile, side: 'E' | 'W' | 'N' | 'S'): string[] => {
      const [x0, y1] = [t.grid.originX, t.grid.originY];
      const span = t.grid.width * t.grid.resX;
      const proj = fromLonLatFn(t.epsg)!;
      // The closing vertex repeats the first one.
      return t.polygonLonLat
        .slice(0, -1)
        .filter(([lon, lat]) => {
          const [x, y] = proj(lon, lat);
          if (side === 'E') return Math.abs(x - (x0 + span)) < 1e-3;
          if (side === 'W') return Math.abs(x - x0) < 1e-3;
          if (side === 'N') return Math.abs(y - y1) < 1e-3;
          return Math.abs(y - (y1 - span)) < 1e-3;
        })
        .map((p) => p.join(','))
        .sort();
    };
    for (const col of [40, 48]) {
      const t = tileAt(32650, col, 517);
      const east = tileAt(32650, col + 1, 517);
      const north = tileAt(32650, col, 518);
      expect(edge(t, 'E')).toEqual(edge(east, 'W'));
      expect(edge(t, 'N')).toEqual(edge(north, 'S'));
      expect(edge(t, 'E').length).toBe(9);
    }
  });
});

describe('tilesForAoi', () => {
  it('returns tiles of both 50N and 51N for an AOI straddling 120°E', () => {
    const zones = new Set(tileIdsForAoi(STRADDLING).map((id) => id.slice(0, 3)));
    expect([...zones].sort()).toEqual(['50N', '51N']);
  });

  it('keeps zone 50 tiles to those reaching west of 120°E and zone 51 tiles to those east of it', () => {
    for (const t of tilesForAoi(STRADDLING)) {
      if (t.zone === 50) expect(t.boundsLonLat[0]).toBeLessThan(120);
      else expect(t.boundsLonLat[2]).toBeGreaterThan(120);
    }
  });

  it('lists no tile twice', () => {
    const ids = tileIdsForAoi(STRADDLING);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('covers every AOI vertex and 2,000 seeded interior points with some tile polygon', () => {
    const tiles = tilesForAoi(STRADDLING);
    const ring = (STRADDLING.coordinates as number[][][])[0]!;
    for (const [lon, lat] of ring) expect(coveringTiles(tiles, lon!, lat!).length).toBeGreaterThan(0);
    const rand = mulberry32(42);
    const aoi = polygon(STRADDLING.coordinates as number[][][]);
    let tested = 0;
    while (tested < 2000) {
      const lon = 119.2 + rand() * 1.7;
      const lat = 49.0 + rand() * 0.95;
      if (!booleanPointInPolygon(point([lon, lat]), aoi)) continue;
      tested++;
      expect(coveringTiles(tiles, lon, lat).length, `${lon},${lat}`).toBeGreaterThan(0);
    }
  });

  it('equals a brute-force exact intersection test for a box across 120°E', () => {
    const [w, s, e, n] = [119.2, 49.1, 120.9, 49.9];
    const expected: string[] = [];
    for (const [epsg, lo, hi] of [
      [32650, w, 120],
      [32651, 120, e],
    ] as const) {
      const part = polygon([
        [
          [lo, s],
          [hi, s],
          [hi, n],
          [lo, n],
          [lo, s],
        ],
      ]);
      const proj = fromLonLatFn(epsg)!;
      const xs = [proj(lo, s), proj(hi, s), proj(hi, n), proj(lo, n)];
      const span = 10_240;
      const c0 = Math.floor(Math.min(...xs.map((p) => p[0])) / span) - 2;
      const c1 = Math.floor(Math.max(...xs.map((p) => p[0])) / span) + 2;
      const r0 = Math.floor(Math.min(...xs.map((p) => p[1])) / span) - 2;
      const r1 = Math.floor(Math.max(...xs.map((p) => p[1])) / span) + 2;
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const t = tileAt(epsg, c, r);
          if (booleanIntersects(polygon([t.polygonLonLat]), part)) expected.push(t.id);
        }
      }
    }
    expect(tileIdsForAoi(box(w, s, e, n)).sort()).toEqual(expected.sort());
  });

  it('leaves out tiles inside a hole and includes every part of a MultiPolygon', () => {
    const aoi: AoiGeometry = {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [116.0, 47.0],
            [117.0, 47.0],
            [117.0, 47.8],
            [116.0, 47.8],
            [116.0, 47.0],
          ],
          [
            [116.2, 47.2],
            [116.2, 47.6],
            [116.8, 47.6],
            [116.8, 47.2],
            [116.2, 47.2],
          ],
        ],
        (box(117.5, 47.0, 117.6, 47.1) as { coordinates: number[][][] }).coordinates,
      ],
    };
    const ids = new Set(tileIdsForAoi(aoi));
    expect(ids.has(tileForLonLat(116.5, 47.4).id)).toBe(false);
    expect(ids.has(tileForLonLat(116.1, 47.4).id)).toBe(true);
    expect(ids.has(tileForLonLat(117.55, 47.05).id)).toBe(true);
  });

  it('covers an AOI crossing the equator with N and S tiles', () => {
    const tiles = tilesForAoi(box(117.0, -0.2, 117.2, 0.2));
    expect(new Set(tiles.map((t) => t.hemisphere))).toEqual(new Set(['N', 'S']));
    for (const [lon, lat] of [
      [117.1, 0.1],
      [117.1, -0.1],
      [117.05, 0],
    ] as const) {
      expect(coveringTiles(tiles, lon, lat).length).toBeGreaterThan(0);
    }
  });

  it('rejects an AOI beyond 84°N', () => {
    expect(() => tileIdsForAoi(box(10, 83, 11, 85))).toThrow(RangeError);
  });

  it('handles the 115.5–126°E × 47–53.3°N box (≈ 524,500 km²) quickly, without duplicates', () => {
    const t0 = performance.now();
    const tiles = tilesForAoi(box(115.5, 47, 126, 53.3));
    const ms = performance.now() - t0;
    const ids = tiles.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(0, 3)))).toEqual(new Set(['50N', '51N']));
    // Area / tile area ≈ 5,000; the border adds a ring of partial tiles.
    expect(tiles.length).toBeGreaterThan(5000);
    expect(tiles.length).toBeLessThan(5400);
    expect(ms).toBeLessThan(5000);
  });
});
