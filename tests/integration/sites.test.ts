import { describe, expect, it } from 'vitest';
import type { LoadedDetector } from '../../services/adapters/files/detector-registry.ts';
import type { ZoneRecord } from '../../services/domain/detectors/rules.ts';
import { multiPolygonAreaM2, type PolygonCoords } from '../../services/domain/geo/area.ts';
import type { ClueFeature } from '../../services/usecases/detect-pair.ts';
import { resolveSites } from '../../services/usecases/detect-tile.ts';
import { rectPolygon } from '../support/geometry.ts';

/** resolveSites: one clue per site, under the most specific scenario, outlining the whole site. */

/** A lon/lat rectangle, counter-clockwise. */
const rect = (x: number, y: number, w: number, h: number): PolygonCoords => rectPolygon(x, y, x + w, y + h);
const clue = (scenario: string, coords: PolygonCoords): ClueFeature => {
  const area = multiPolygonAreaM2([coords]);
  return {
    type: 'Feature',
    geometry: { type: 'MultiPolygon', coordinates: [coords] as number[][][][] },
    properties: {
      scenario,
      status: 'new',
      detector: scenario,
      model_version: '1.0.0',
      model_sha256: 'x',
      confidence: 0.95,
      area_m2: area,
      area_ha: area / 1e4,
      area_mu: area / 666.67,
      first_seen: '2025-08-19',
      last_seen: '2025-08-19',
      before_date: '2024-08-20',
      after_date: '2025-08-19',
      before_scene: 'a',
      after_scene: 'b',
      priority: 1,
      zones: [],
    },
  };
};
// Only the manifest fields resolveSites reads: the scenario, its zoning rule, MMU and weight.
const detector = (id: string, zoning: Record<string, unknown>) =>
  ({ manifest: { id, zoning, minAreaM2: 1000, priorityWeight: 1 } }) as unknown as LoadedDetector;
const detectors = [
  detector('mine', { rule: 'after-deadline', layer: 'mining_permit', deadlineField: 'valid_to' }),
  detector('grassland', { rule: 'inside', layer: 'grassland' }),
  detector('hulun-lake', { rule: 'inside', layer: 'lake_protection_zone' }),
  detector('forest-encroachment', { rule: 'inside', layer: 'forest_land' }),
];
const windows = { after: { from: '2025-06-01' } };
const permit: ZoneRecord = {
  id: 'p1',
  kind: 'mining_permit',
  properties: { permit_no: 'C150', valid_to: '2027-12-31' },
  coordinates: [rect(117.7, 49.4, 0.002, 0.002)],
};
const sq = (c: ClueFeature) => multiPolygonAreaM2(c.geometry.coordinates as PolygonCoords[]);

describe('resolveSites', () => {
  it('a specific clue that saw part of a site outlines all of it and names the others', () => {
    // A clearing in forest land (0.003° square) whose corner (a ninth) lies in the lake belt.
    const forest = clue('forest-encroachment', rect(117.8, 49.4, 0.003, 0.003));
    const lake = clue('hulun-lake', rect(117.8, 49.4, 0.001, 0.001));
    const { features, original } = resolveSites([forest, lake], detectors, { features: [] }, windows);
    expect(features).toHaveLength(1);
    const site = features[0]!;
    expect(site.properties.scenario).toBe('hulun-lake');
    expect(site.properties.also_scenarios).toEqual(['forest-encroachment']);
    expect(sq(site) / sq(forest)).toBeCloseTo(1, 3);
    expect(site.properties.area_m2).toBeCloseTo(sq(forest), -1);
    expect(original.has(lake)).toBe(true);
    // The inputs are not changed.
    expect(lake.properties.also_scenarios).toBeUndefined();
    expect(sq(lake) / sq(forest)).toBeCloseTo(1 / 9, 3);
  });

  it('a mine clue absorbing a grassland clue never grows back over its valid permit', () => {
    // Pit dug past the permit's east edge: mine saw the strip just outside; grassland the whole
    // disturbance, which also reaches into the permit (as a detection before its own layer clipped it).
    const mine = clue('mine', rect(117.702, 49.4005, 0.0005, 0.001));
    const grass = clue('grassland', rect(117.7015, 49.4005, 0.002, 0.001));
    const { features } = resolveSites([grass, mine], detectors, { features: [permit] }, windows);
    expect(features).toHaveLength(1);
    const site = features[0]!;
    expect(site.properties.scenario).toBe('mine');
    expect(site.properties.also_scenarios).toEqual(['grassland']);
    // The union minus the permit: x from 117.702 to 117.7035.
    const outside = multiPolygonAreaM2([rect(117.702, 49.4005, 0.0015, 0.001)]);
    expect(sq(site) / outside).toBeCloseTo(1, 2);
    expect(site.properties.zones?.[0]).toMatchObject({ id: 'p1', permit_no: 'C150' });
  });

  it('clues of one scenario, or apart, stay as they are', () => {
    const a = clue('grassland', rect(117.9, 49.4, 0.002, 0.002));
    const b = clue('grassland', rect(117.9, 49.4, 0.001, 0.001));
    const c = clue('mine', rect(117.95, 49.4, 0.002, 0.002));
    const { features } = resolveSites([a, b, c], detectors, { features: [] }, windows);
    expect(features).toEqual([a, b, c]);
  });
});
