import type { AnalysisTile } from './analysis-grid.ts';
import type { PolygonCoords } from './area.ts';
import { fromLonLatFn } from './crs.ts';

/** A ring in pixel coordinates (x right, y down; pixel centres at +0.5). */
export type PxRing = [number, number][];

/**
 * Calls `fn(row, x0, x1)` for the pixel spans (x0 ≤ x < x1) whose centres lie inside the
 * polygon (even–odd rule, so holes work), clipped to width×height.
 */
export function scanPolygon(
  rings: PxRing[],
  width: number,
  height: number,
  fn: (row: number, x0: number, x1: number) => void,
): void {
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const ring of rings) {
    for (const [, y] of ring) {
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  const r0 = Math.max(0, Math.floor(minY - 0.5));
  const r1 = Math.min(height - 1, Math.ceil(maxY - 0.5));
  const xs: number[] = [];
  for (let row = r0; row <= r1; row++) {
    const cy = row + 0.5;
    xs.length = 0;
    for (const ring of rings) {
      const n = ring.length;
      for (let i = 0; i < n; i++) {
        const a = ring[i]!;
        const b = ring[(i + 1) % n]!;
        if (a[1] > cy === b[1] > cy) continue;
        xs.push(a[0] + ((cy - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
      }
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const x0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const x1 = Math.min(width, Math.ceil(xs[k + 1]! - 0.5));
      if (x1 > x0) fn(row, x0, x1);
    }
  }
}

/** Burn lon/lat polygons onto the tile grid (pixel centres inside; even–odd, holes kept). */
export function rasterize(
  tile: AnalysisTile,
  polys: PolygonCoords[],
  target?: Uint8Array,
  value = 1,
): Uint8Array {
  const { grid } = tile;
  const out = target ?? new Uint8Array(grid.width * grid.height);
  const fromLonLat = fromLonLatFn(grid.epsg)!;
  for (const poly of polys) {
    const rings = poly.map((ring) =>
      ring.map(([lon, lat]) => {
        const [x, y] = fromLonLat(lon, lat);
        return [(x - grid.originX) / grid.resX, (grid.originY - y) / grid.resY] as [number, number];
      }),
    );
    scanPolygon(rings, grid.width, grid.height, (row, x0, x1) => {
      out.fill(value, row * grid.width + x0, row * grid.width + x1);
    });
  }
  return out;
}
