/**
 * A north-up raster grid: `width`×`height` pixels, origin at the top-left corner of the
 * top-left pixel, pixel size `resX` (>0) by `resY` (>0, rows go south), in CRS `epsg`.
 */
export interface Grid {
  epsg: number;
  width: number;
  height: number;
  originX: number;
  originY: number;
  resX: number;
  resY: number;
}

/** Map coordinates of a pixel's centre. */
export function pixelCenter(grid: Grid, col: number, row: number): [number, number] {
  return [grid.originX + (col + 0.5) * grid.resX, grid.originY - (row + 0.5) * grid.resY];
}

/** Map coordinates of a (fractional) pixel-corner position, as produced by contouring. */
export function pixelToMap(grid: Grid, x: number, y: number): [number, number] {
  return [grid.originX + x * grid.resX, grid.originY - y * grid.resY];
}

/** [minX, minY, maxX, maxY] of the grid in its CRS. */
export function gridBounds(grid: Grid): [number, number, number, number] {
  return [
    grid.originX,
    grid.originY - grid.height * grid.resY,
    grid.originX + grid.width * grid.resX,
    grid.originY,
  ];
}

/** True when the two grids cover the same pixels (to a small fraction of a pixel). */
export function sameGrid(a: Grid, b: Grid, tolerancePx = 0.01): boolean {
  return (
    a.epsg === b.epsg &&
    a.width === b.width &&
    a.height === b.height &&
    Math.abs(a.originX - b.originX) <= tolerancePx * a.resX &&
    Math.abs(a.originY - b.originY) <= tolerancePx * a.resY &&
    Math.abs(a.resX - b.resX) <= 1e-6 * a.resX &&
    Math.abs(a.resY - b.resY) <= 1e-6 * a.resY
  );
}
