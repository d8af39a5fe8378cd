import { describe, expect, it } from 'vitest';
import { fromLonLatFn, toLonLatFn } from '../../services/domain/geo/crs.ts';
import {
  groundResolution,
  isValidTile,
  lonLatToMercator,
  lonLatToTile,
  MAX_LAT,
  mercatorToLonLat,
  pixelSize3857,
  tileBounds3857,
  tileBounds4326,
  tileGrid,
  tileJson,
  WORLD_HALF,
  zoomToFit,
} from '../../services/domain/geo/webmercator.ts';

describe('web mercator tile maths', () => {
  it('z0 covers the square Mercator world', () => {
    expect(tileBounds3857({ z: 0, x: 0, y: 0 })).toEqual([-WORLD_HALF, -WORLD_HALF, WORLD_HALF, WORLD_HALF]);
    const [w, s, e, n] = tileBounds4326({ z: 0, x: 0, y: 0 });
    expect(w).toBeCloseTo(-180, 9);
    expect(e).toBeCloseTo(180, 9);
    expect(n).toBeCloseTo(MAX_LAT, 9);
    expect(s).toBeCloseTo(-MAX_LAT, 9);
  });

  it('z1 quarters: y grows southwards, x eastwards', () => {
    expect(tileBounds4326({ z: 1, x: 0, y: 0 })[0]).toBeCloseTo(-180, 9);
    expect(tileBounds4326({ z: 1, x: 1, y: 0 })[1]).toBeCloseTo(0, 9);
    expect(tileBounds4326({ z: 1, x: 1, y: 1 })[3]).toBeCloseTo(0, 9);
    expect(tileBounds3857({ z: 1, x: 1, y: 1 })).toEqual([0, -WORLD_HALF, WORLD_HALF, 0]);
  });

  it('a known Hulunbuir tile (z14) matches the reference bounds', () => {
    // 119.05°E 49.05°N → tile 14/13610/5623 (slippy-map formula: y = (1 − ln(tan φ + sec φ)/π)/2 · 2^z)
    const t = lonLatToTile(119.05, 49.05, 14);
    expect(t).toEqual({ z: 14, x: 13610, y: 5623 });
    const [w, s, e, n] = tileBounds4326(t);
    expect(w).toBeLessThanOrEqual(119.05);
    expect(e).toBeGreaterThan(119.05);
    expect(s).toBeLessThanOrEqual(49.05);
    expect(n).toBeGreaterThan(49.05);
    expect(e - w).toBeCloseTo(360 / 2 ** 14, 12);
  });

  it('lon/lat ↔ mercator round trip and agreement with proj4 EPSG:3857', () => {
    const toM = fromLonLatFn(3857)!;
    const toLL = toLonLatFn(3857)!;
    for (const [lon, lat] of [
      [119.5, 49.2],
      [-73.9, 40.7],
      [0, 0],
      [179.9, -84],
    ] as [number, number][]) {
      const [mx, my] = lonLatToMercator(lon, lat);
      const [px, py] = toM(lon, lat);
      expect(mx).toBeCloseTo(px, 4);
      expect(my).toBeCloseTo(py, 4);
      const [lon2, lat2] = mercatorToLonLat(mx, my);
      expect(lon2).toBeCloseTo(lon, 10);
      expect(lat2).toBeCloseTo(lat, 10);
      const [lon3, lat3] = toLL(mx, my);
      expect(lon3).toBeCloseTo(lon, 8);
      expect(lat3).toBeCloseTo(lat, 8);
    }
  });

  it('validates tile addresses', () => {
    expect(isValidTile({ z: 0, x: 0, y: 0 })).toBe(true);
    expect(isValidTile({ z: 3, x: 7, y: 7 })).toBe(true);
    expect(isValidTile({ z: 3, x: 8, y: 0 })).toBe(false);
    expect(isValidTile({ z: 3, x: 0, y: -1 })).toBe(false);
    expect(isValidTile({ z: 25, x: 0, y: 0 })).toBe(false);
    expect(isValidTile({ z: 1.5, x: 0, y: 0 })).toBe(false);
  });

  it('pixel sizes and tile grids', () => {
    expect(pixelSize3857(0)).toBeCloseTo(156543.03392804097, 6);
    expect(groundResolution(14, 49)).toBeCloseTo(pixelSize3857(14) * Math.cos((49 * Math.PI) / 180), 9);
    const g = tileGrid({ z: 2, x: 1, y: 2 });
    expect(g).toMatchObject({ epsg: 3857, width: 256, height: 256 });
    const [minX, , , maxY] = tileBounds3857({ z: 2, x: 1, y: 2 });
    expect(g.originX).toBe(minX);
    expect(g.originY).toBe(maxY);
    expect(g.resX * 256).toBeCloseTo((2 * WORLD_HALF) / 4, 6);
  });

  it('builds a TileJSON 3.0.0 document', () => {
    const doc = tileJson({
      tiles: ['http://x/tiles/clues/{z}/{x}/{y}.mvt'],
      bounds: [119, 49, 119.5, 49.2],
      maxzoom: 16,
      vectorLayers: [{ id: 'clues', fields: { id: 'Number' } }],
    });
    expect(doc).toMatchObject({
      tilejson: '3.0.0',
      tiles: ['http://x/tiles/clues/{z}/{x}/{y}.mvt'],
      minzoom: 0,
      maxzoom: 16,
      bounds: [119, 49, 119.5, 49.2],
      vector_layers: [{ id: 'clues', fields: { id: 'Number' } }],
    });
    const center = doc.center as number[];
    expect(center[0]).toBeCloseTo(119.25, 9);
    expect(center[2]).toBe(zoomToFit([119, 49, 119.5, 49.2]));
    expect(tileJson({ tiles: [] }).bounds).toEqual([-180, -MAX_LAT, 180, MAX_LAT]);
  });
});
