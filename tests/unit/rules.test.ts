import { describe, expect, it } from 'vitest';
import {
  applyZoningRule,
  cluePriority,
  resolveScenarioOverlaps,
  type ZoneRecord,
} from '../../services/domain/detectors/rules.ts';
import { SCENARIO_PRECEDENCE, SCENARIO_SPECS } from '../../services/domain/detectors/scenarios.ts';
import { multiPolygonAreaM2, type PolygonCoords } from '../../services/domain/geo/area.ts';
import { rectPolygon } from '../support/geometry.ts';

/** A lon/lat square of `side` degrees at (x, y), counter-clockwise. */
const square = (x: number, y: number, side: number): PolygonCoords => rectPolygon(x, y, x + side, y + side);
/** A lon/lat rectangle from (x0, y0) to (x1, y1), counter-clockwise. */
const rect = rectPolygon;
// ~0.001° ≈ 111 m north, ≈ 72 m east at 49.4°N.
const det = [square(117.7, 49.4, 0.002)];
const detArea = multiPolygonAreaM2(det);
const zone = (id: string, kind: ZoneRecord['kind'], coords: PolygonCoords, properties = {}): ZoneRecord => ({
  id,
  kind,
  properties,
  coordinates: [coords],
});
const opts = { afterFrom: '2025-06-01', minAreaM2: 1000 };

describe('scenarios', () => {
  it('are the eight of domain.md, each once, and all in the overlap precedence', () => {
    const ids = SCENARIO_SPECS.map((s) => s.id);
    expect([...ids].sort()).toEqual(
      [
        'black-soil',
        'forest-encroachment',
        'grassland',
        'hulun-lake',
        'mine',
        'river',
        'temporary-land',
        'wetland',
      ].sort(),
    );
    expect([...SCENARIO_PRECEDENCE].sort()).toEqual([...ids].sort());
  });
});

describe('zoning rules', () => {
  it('none keeps the detection as it is', () => {
    const r = applyZoningRule(det, { rule: 'none', layer: null }, [], opts);
    expect(r.coordinates).toEqual(det);
    expect(r.areaM2).toBeCloseTo(detArea, 3);
  });

  it('inside keeps only the part inside the layer and drops a detection outside it', () => {
    const forest = zone('7', 'forest_land', square(117.701, 49.399, 0.01), { name: '樟子松林 1' });
    const r = applyZoningRule(det, { rule: 'inside', layer: 'forest_land' }, [forest], opts);
    expect(r.reason).toBeNull();
    // The forest covers the upper-right 3/4 of the square (x ≥ 117.701 over the whole height).
    expect(r.areaM2 / detArea).toBeCloseTo(0.5, 2);
    expect(r.zones).toEqual([{ id: '7', kind: 'forest_land', name: '樟子松林 1' }]);
    const far = zone('8', 'forest_land', square(118, 49.4, 0.01));
    const out = applyZoningRule(det, { rule: 'inside', layer: 'forest_land' }, [far], opts);
    expect(out.coordinates).toBeNull();
    expect(out.reason).toMatch(/outside forest_land/);
  });

  it('inside ignores features of other layers', () => {
    const other = zone('9', 'grassland', square(117.69, 49.39, 0.05));
    const r = applyZoningRule(det, { rule: 'inside', layer: 'forest_land' }, [other], opts);
    expect(r.coordinates).toBeNull();
  });

  it('outside removes the part inside a mining permit, keeping the overlap permit number', () => {
    const permit = zone('3', 'mining_permit', square(117.7, 49.4, 0.001), { permit_no: 'C150' });
    const r = applyZoningRule(det, { rule: 'outside', layer: 'mining_permit' }, [permit], opts);
    expect(r.areaM2 / detArea).toBeCloseTo(0.75, 2);
    expect(r.zones[0]).toMatchObject({ id: '3', permit_no: 'C150' });
    const covering = zone('4', 'mining_permit', square(117.69, 49.39, 0.05), { permit_no: 'C151' });
    const lawful = applyZoningRule(det, { rule: 'outside', layer: 'mining_permit' }, [covering], opts);
    expect(lawful.coordinates).toBeNull();
    expect(lawful.reason).toMatch(/inside mining_permit/);
  });

  it('after-deadline: lawful inside a permit whose reclaim_by has not passed, a clue after it', () => {
    const spec = { rule: 'after-deadline' as const, layer: 'temporary_land_permit' as const };
    const valid = zone('1', 'temporary_land_permit', square(117.69, 49.39, 0.05), {
      permit_no: 'LS-2024-003',
      reclaim_by: '2026-10-31',
    });
    const expired = { ...valid, id: '2', properties: { permit_no: 'LS-2024-001', reclaim_by: '2025-05-31' } };
    expect(applyZoningRule(det, spec, [valid], opts).coordinates).toBeNull();
    const clue = applyZoningRule(det, spec, [expired], opts);
    expect(clue.coordinates).not.toBeNull();
    expect(clue.zones).toEqual([
      { id: '2', kind: 'temporary_land_permit', permit_no: 'LS-2024-001', deadline: '2025-05-31' },
    ]);
    // Outside any permit: a clue.
    expect(applyZoningRule(det, spec, [], opts).areaM2).toBeCloseTo(detArea, 3);
    // Spill: the part outside a valid permit remains.
    const half = zone('5', 'temporary_land_permit', square(117.7, 49.4, 0.001), { reclaim_by: '2026-10-31' });
    expect(applyZoningRule(det, spec, [half], opts).areaM2 / detArea).toBeCloseTo(0.75, 2);
    // A different deadline field (mining permits expire by valid_to).
    const mine = zone('6', 'mining_permit', square(117.69, 49.39, 0.05), { valid_to: '2024-12-31' });
    const r = applyZoningRule(
      det,
      { rule: 'after-deadline', layer: 'mining_permit', deadlineField: 'valid_to' },
      [mine],
      opts,
    );
    expect(r.coordinates).not.toBeNull();
  });

  it('maxDistanceM: a change outside every permit counts only near one (spill), not far away', () => {
    const spec = {
      rule: 'after-deadline' as const,
      layer: 'temporary_land_permit' as const,
      maxDistanceM: 50,
    };
    // A valid permit just east of the detection (0.0003° ≈ 22 m gap).
    const adjacent = zone('1', 'temporary_land_permit', square(117.7023, 49.4, 0.002), {
      reclaim_by: '2026-10-31',
    });
    expect(applyZoningRule(det, spec, [adjacent], opts).coordinates).not.toBeNull();
    const far = zone('2', 'temporary_land_permit', square(117.71, 49.4, 0.002), { reclaim_by: '2026-10-31' });
    const r = applyZoningRule(det, spec, [far], opts);
    expect(r.coordinates).toBeNull();
    expect(r.reason).toMatch(/farther than 50 m/);
  });

  it('drops what remains below the minimum mapping unit after clipping', () => {
    const permit = zone('3', 'mining_permit', square(117.7, 49.4, 0.00199), { permit_no: 'C150' });
    const r = applyZoningRule(det, { rule: 'outside', layer: 'mining_permit' }, [permit], opts);
    expect(r.coordinates).toBeNull();
    expect(r.areaM2).toBeLessThan(1000);
  });

  it('what is left once valid permits are cut out must be two pixels wide and half the MMU', () => {
    const spec = { rule: 'after-deadline' as const, layer: 'temporary_land_permit' as const };
    // A valid permit of about 72 × 111 m.
    const permit = zone('1', 'temporary_land_permit', rect(117.7, 49.4, 117.701, 49.401), {
      permit_no: 'LS-2024-003',
      reclaim_by: '2026-10-31',
    });
    // The yard seen one pixel too wide all round (misregistration): a ring about 7.5 m wide and
    // 2,700 m² around the permit, over the MMU, but nowhere two pixels wide.
    const ring = [rect(117.6999, 49.39993, 117.7011, 49.40107)];
    expect(multiPolygonAreaM2(ring) - multiPolygonAreaM2(permit.coordinates)).toBeGreaterThan(2000);
    const outside = applyZoningRule(ring, spec, [permit], opts);
    expect(outside.coordinates).toBeNull();
    expect(outside.reason).toMatch(/narrower than two pixels/);
    // The yard and a compact spill east of it of about 25 × 28 m (700 m²): under the MMU, but the
    // disturbance as a whole is over it and the spill is wide, so the spill is the clue.
    const spill: PolygonCoords[] = [
      [
        [
          [117.7, 49.4],
          [117.70135, 49.4],
          [117.70135, 49.40025],
          [117.701, 49.40025],
          [117.701, 49.401],
          [117.7, 49.401],
          [117.7, 49.4],
        ],
      ],
    ];
    const clue = applyZoningRule(spill, spec, [permit], opts);
    expect(clue.coordinates).not.toBeNull();
    expect(clue.areaM2).toBeGreaterThan(600);
    expect(clue.areaM2).toBeLessThan(800);
    // At 20 m pixels the same spill is not two pixels wide.
    expect(applyZoningRule(spill, spec, [permit], { ...opts, pixelM: 20 }).coordinates).toBeNull();
    // Under half the MMU (about 15 × 17 m), it is dropped however compact.
    const small: PolygonCoords[] = [
      [
        [
          [117.7, 49.4],
          [117.7012, 49.4],
          [117.7012, 49.40015],
          [117.701, 49.40015],
          [117.701, 49.401],
          [117.7, 49.401],
          [117.7, 49.4],
        ],
      ],
    ];
    expect(applyZoningRule(small, spec, [permit], opts).coordinates).toBeNull();
  });

  it('the part of a detection inside a layer, cut at its edge, must be two pixels wide and half the MMU', () => {
    const spec = { rule: 'inside' as const, layer: 'forest_land' as const };
    // A clearing of about 145 × 222 m whose east edge overlaps a forest by 7 m: 1,600 m² inside,
    // over the MMU but one pixel wide (a misregistered forest edge).
    const clearing = [rect(117.7, 49.4, 117.702, 49.402)];
    const strip = applyZoningRule(
      clearing,
      spec,
      [zone('1', 'forest_land', rect(117.7019, 49.39, 117.71, 49.41))],
      opts,
    );
    expect(strip.coordinates).toBeNull();
    expect(strip.reason).toMatch(/part inside forest_land narrower than two pixels/);
    // A corner of about 25 × 28 m (700 m²) inside the forest: under the MMU, compact, kept.
    const corner = zone('2', 'forest_land', rect(117.70165, 49.39, 117.71, 49.40025));
    const r = applyZoningRule(clearing, spec, [corner], opts);
    expect(r.coordinates).not.toBeNull();
    expect(r.areaM2).toBeGreaterThan(600);
    expect(r.areaM2).toBeLessThan(800);
  });

  it('keeps holes of the detection', () => {
    const withHole: PolygonCoords[] = [
      [square(117.7, 49.4, 0.004)[0]!, [...square(117.701, 49.401, 0.001)[0]!].reverse()],
    ];
    const forest = zone('7', 'forest_land', square(117.69, 49.39, 0.05));
    const r = applyZoningRule(withHole, { rule: 'inside', layer: 'forest_land' }, [forest], opts);
    expect(r.coordinates![0]!.length).toBe(2);
    expect(r.areaM2).toBeCloseTo(multiPolygonAreaM2(withHole), 0);
  });

  it('priority grows with weight, confidence and area, within 0–3', () => {
    expect(cluePriority(1, 0.9, 1000)).toBe(1);
    expect(cluePriority(2, 0.95, 200_000)).toBe(3);
    expect(cluePriority(0, 1, 1e6)).toBe(0);
    expect(cluePriority(1, 0.9, 100_000)).toBeGreaterThan(cluePriority(1, 0.9, 1000));
  });

  it('one site, one clue: the most specific scenario keeps an overlapping site', () => {
    const clue = (scenario: string, coords: PolygonCoords) => ({
      geometry: { coordinates: [coords] as number[][][][] },
      properties: { scenario, area_m2: multiPolygonAreaM2([coords]) },
    });
    const river = clue('river', square(117.7, 49.4, 0.002));
    const grass = clue('grassland', square(117.7002, 49.4002, 0.002)); // ~80 % overlap
    const apart = clue('grassland', square(117.71, 49.4, 0.002));
    const change = clue('change', square(117.7, 49.4, 0.002));
    const { kept, folded } = resolveScenarioOverlaps([grass, river, apart, change], SCENARIO_PRECEDENCE);
    expect(kept).toEqual([river, apart, change]);
    expect(folded.get(river)).toEqual(['grassland']);
  });

  it('a site in a river management area inside a wetland reserve is a river clue (the narrower designation)', () => {
    const clue = (scenario: string, coords: PolygonCoords) => ({
      geometry: { coordinates: [coords] as number[][][][] },
      properties: { scenario, area_m2: multiPolygonAreaM2([coords]) },
    });
    const wetland = clue('wetland', square(117.7, 49.4, 0.002));
    const river = clue('river', square(117.7001, 49.4001, 0.002));
    const lake = clue('hulun-lake', square(117.7, 49.4001, 0.002));
    const { kept, folded } = resolveScenarioOverlaps([wetland, lake, river], SCENARIO_PRECEDENCE);
    expect(kept).toEqual([river]);
    expect(folded.get(river)).toEqual(['wetland', 'hulun-lake']);
  });
});
