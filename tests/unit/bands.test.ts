import { describe, expect, it } from 'vitest';
import {
  CANONICAL_BANDS,
  isCanonicalBand,
  SENTINEL2_BANDS,
  sentinel2Scaling,
} from '../../services/domain/imagery/bands.ts';

describe('sentinel2Scaling', () => {
  it('has no offset before 2022-01-25', () => {
    expect(sentinel2Scaling('L2A', new Date('2022-01-24T23:59:59.999Z'))).toEqual({ scale: 1e-4, offset: 0 });
  });

  it('has an offset of −0.1 from 2022-01-25 (processing baseline 04.00)', () => {
    expect(sentinel2Scaling('L2A', new Date('2022-01-25T00:00:00Z'))).toEqual({ scale: 1e-4, offset: -0.1 });
    expect(sentinel2Scaling('L2A', new Date('2024-07-01T03:00:00Z')).offset).toBe(-0.1);
  });

  it('applies the −0.1 offset to L1C as well from 2022-01-25 (RADIO_ADD_OFFSET −1000)', () => {
    expect(sentinel2Scaling('L1C', new Date('2022-06-01T00:00:00Z'))).toEqual({ scale: 1e-4, offset: -0.1 });
  });

  it('has no offset for an old L1C product', () => {
    expect(sentinel2Scaling('L1C', new Date('2019-06-01T00:00:00Z')).offset).toBe(0);
  });

  it('makes DN 1000 reflectance 0 after the baseline change and 0.1 before it', () => {
    const reflectance = (d: Date) => {
      const s = sentinel2Scaling('L2A', d);
      return 1000 * s.scale + s.offset;
    };
    expect(reflectance(new Date('2023-01-01T00:00:00Z'))).toBeCloseTo(0, 12);
    expect(reflectance(new Date('2021-01-01T00:00:00Z'))).toBeCloseTo(0.1, 12);
  });
});

describe('band tables', () => {
  it('maps every Sentinel-2 band onto a canonical band', () => {
    for (const b of SENTINEL2_BANDS) expect(isCanonicalBand(b.common)).toBe(true);
  });

  it('lists the 13 Sentinel-2 bands once each', () => {
    expect(SENTINEL2_BANDS).toHaveLength(13);
    expect(new Set(SENTINEL2_BANDS.map((b) => b.id)).size).toBe(13);
    expect(new Set(SENTINEL2_BANDS.map((b) => b.common)).size).toBe(CANONICAL_BANDS.length);
  });

  it('gives the 10 m bands their native resolution', () => {
    const tenMetre = SENTINEL2_BANDS.filter((b) => b.gsd === 10).map((b) => b.id);
    expect(tenMetre).toEqual(['B02', 'B03', 'B04', 'B08']);
  });

  it('rejects names that are not canonical', () => {
    expect(isCanonicalBand('nir')).toBe(true);
    expect(isCanonicalBand('B08')).toBe(false);
    expect(isCanonicalBand('NIR')).toBe(false);
  });
});
