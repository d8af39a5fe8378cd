import { describe, expect, it } from 'vitest';
import { type Grid, gridBounds, pixelCenter, pixelToMap, sameGrid } from '../../services/domain/geo/grid.ts';

function utmGrid(overrides: Partial<Grid> = {}): Grid {
  return {
    epsg: 32650,
    width: 4,
    height: 3,
    originX: 500_000,
    originY: 5_300_000,
    resX: 10,
    resY: 20,
    ...overrides,
  };
}

describe('pixelCenter', () => {
  it('is half a pixel right of and below the pixel corner', () => {
    expect(pixelCenter(utmGrid(), 0, 0)).toEqual([500_005, 5_299_990]);
    expect(pixelCenter(utmGrid(), 3, 2)).toEqual([500_035, 5_299_950]);
  });
});

describe('pixelToMap', () => {
  it('maps corner positions with rows going south', () => {
    expect(pixelToMap(utmGrid(), 0, 0)).toEqual([500_000, 5_300_000]);
    expect(pixelToMap(utmGrid(), 4, 3)).toEqual([500_040, 5_299_940]);
    expect(pixelToMap(utmGrid(), 1.5, 0.5)).toEqual([500_015, 5_299_990]);
  });
});

describe('gridBounds', () => {
  it('returns [minX, minY, maxX, maxY]', () => {
    expect(gridBounds(utmGrid())).toEqual([500_000, 5_299_940, 500_040, 5_300_000]);
  });
});

describe('sameGrid', () => {
  it('is true for identical grids', () => {
    expect(sameGrid(utmGrid(), utmGrid())).toBe(true);
  });

  it('tolerates an origin shift below the pixel tolerance', () => {
    expect(sameGrid(utmGrid(), utmGrid({ originX: 500_000.05 }))).toBe(true);
  });

  it('rejects an origin shift above the pixel tolerance', () => {
    expect(sameGrid(utmGrid(), utmGrid({ originY: 5_300_001 }))).toBe(false);
  });

  it('rejects a different CRS, size or resolution', () => {
    expect(sameGrid(utmGrid(), utmGrid({ epsg: 32651 }))).toBe(false);
    expect(sameGrid(utmGrid(), utmGrid({ width: 5 }))).toBe(false);
    expect(sameGrid(utmGrid(), utmGrid({ height: 2 }))).toBe(false);
    expect(sameGrid(utmGrid(), utmGrid({ resX: 10.01 }))).toBe(false);
  });
});
