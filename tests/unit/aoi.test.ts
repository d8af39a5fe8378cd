import { describe, expect, it } from 'vitest';
import { aoiFromGeoJson } from '../../services/domain/geo/aoi.ts';

const square = [
  [
    [119, 49],
    [120.5, 49],
    [120.5, 50],
    [119, 50],
    [119, 49],
  ],
];

describe('aoiFromGeoJson', () => {
  it('accepts a bare Polygon, a Feature and a FeatureCollection as one MultiPolygon', () => {
    expect(aoiFromGeoJson({ type: 'Polygon', coordinates: square }).coordinates).toHaveLength(1);
    expect(
      aoiFromGeoJson({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: square } })
        .type,
    ).toBe('MultiPolygon');
    const fc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: { type: 'Polygon', coordinates: square } },
        { type: 'Feature', geometry: { type: 'MultiPolygon', coordinates: [square, square] } },
      ],
    };
    expect(aoiFromGeoJson(fc).coordinates).toHaveLength(3);
  });

  it('refuses a self-intersecting polygon, naming the feature and the crossing', () => {
    const bowtie = [
      [
        [119, 49],
        [120, 50],
        [120, 49],
        [119, 50],
        [119, 49],
      ],
    ];
    const fc = {
      type: 'FeatureCollection',
      features: [
        { geometry: { type: 'Polygon', coordinates: square } },
        { geometry: { type: 'Polygon', coordinates: bowtie } },
      ],
    };
    expect(() => aoiFromGeoJson(fc)).toThrow(
      /AOI feature 1: invalid polygon \(self-intersection at 119\.50000, 49\.50000\)/,
    );
  });

  it('refuses points, projected coordinates and empty collections', () => {
    expect(() => aoiFromGeoJson({ type: 'Point', coordinates: [119, 49] })).toThrow(
      /must be a Polygon or MultiPolygon, got Point/,
    );
    const utm = [
      [
        [500000, 5400000],
        [510000, 5400000],
        [510000, 5410000],
        [500000, 5400000],
      ],
    ];
    expect(() => aoiFromGeoJson({ type: 'Polygon', coordinates: utm })).toThrow(/not lon\/lat in degrees/);
    expect(() => aoiFromGeoJson({ type: 'FeatureCollection', features: [] })).toThrow(/empty/);
  });
});
