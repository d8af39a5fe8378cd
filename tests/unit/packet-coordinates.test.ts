import { describe, expect, it } from 'vitest';
import {
  coordsBounds,
  formatLatLon,
  formatLatLonDms,
  parseDms,
  polygonVertices,
  toDms,
} from '../../services/domain/packets/coordinates.ts';

describe('degrees-minutes-seconds', () => {
  it('formats known coordinates', () => {
    expect(toDms(49.388, 'lat')).toBe('49°23′16.80″N');
    expect(toDms(117.714, 'lon')).toBe('117°42′50.40″E');
    expect(toDms(-33.8568, 'lat')).toBe('33°51′24.48″S');
    expect(toDms(-70.5, 'lon')).toBe('70°30′00.00″W');
    expect(toDms(0, 'lat')).toBe('0°00′00.00″N');
  });

  it('carries rounded seconds into minutes and degrees (never 60″)', () => {
    expect(toDms(49 + 59 / 60 + 59.999 / 3600, 'lat')).toBe('50°00′00.00″N');
    expect(toDms(10 + 0.9999999, 'lon')).toBe('11°00′00.00″E');
    expect(toDms(117 + 12 / 60 + 59.996 / 3600, 'lon')).toBe('117°13′00.00″E');
  });

  it('round-trips through parseDms to within 0.005″ (≈ 0.15 m)', () => {
    for (let i = 0; i < 500; i++) {
      const lat = -89 + ((i * 7919) % 17800) / 100 + (i % 13) * 1e-7;
      const lon = -179 + ((i * 104729) % 35800) / 100 + (i % 7) * 3e-7;
      expect(Math.abs(parseDms(toDms(lat, 'lat')) - lat)).toBeLessThan(0.005 / 3600 + 1e-12);
      expect(Math.abs(parseDms(toDms(lon, 'lon')) - lon)).toBeLessThan(0.005 / 3600 + 1e-12);
    }
  });

  it('refuses what is not a coordinate', () => {
    expect(() => toDms(91, 'lat')).toThrow(RangeError);
    expect(() => toDms(Number.NaN, 'lon')).toThrow(RangeError);
    expect(() => parseDms('49 23 16 N')).toThrow(RangeError);
  });

  it('formats a lon/lat pair latitude first, decimal and DMS', () => {
    expect(formatLatLon([117.7145678, 49.3881234])).toBe('49.388123°N, 117.714568°E');
    expect(formatLatLonDms([117.714, 49.388])).toBe('49°23′16.80″N, 117°42′50.40″E');
  });
});

describe('polygon vertices', () => {
  it('lists each ring without its closing vertex, numbered across parts and holes', () => {
    const square = (x: number, y: number, d: number) => [
      [x, y],
      [x + d, y],
      [x + d, y + d],
      [x, y + d],
      [x, y],
    ];
    const coords = [[square(0, 0, 10), square(2, 2, 1)], [square(20, 0, 1)]];
    const v = polygonVertices(coords);
    expect(v).toHaveLength(12);
    expect(v[0]).toEqual({ no: 1, part: 1, ring: 1, lon: 0, lat: 0 });
    expect(v[4]).toEqual({ no: 5, part: 1, ring: 2, lon: 2, lat: 2 });
    expect(v[11]).toEqual({ no: 12, part: 2, ring: 1, lon: 20, lat: 1 });
    expect(coordsBounds(coords)).toEqual([0, 0, 21, 10]);
  });
});
