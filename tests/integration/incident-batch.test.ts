import { afterAll, describe, expect, it } from 'vitest';
import { type MergeResult, writeTileDetections } from '../../services/adapters/postgis/incident-store.ts';
import { createRun, lockTileForWrite } from '../../services/adapters/postgis/patrol-store.ts';
import { withTransaction } from '../../services/adapters/postgis/pool.ts';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import type { ClueFeature } from '../../services/usecases/detect-pair.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { rectPolygon } from '../support/geometry.ts';

/**
 * The set-wise clue merge (a tile's detections in a few statements) against the same rules
 * applied detection by detection: seeded runs of seeded tiles, written once each way into
 * two databases, must leave the same clues, detections and clue events, row for row and
 * vertex for vertex. The detections sit on a coarse lattice so that they often touch clues of
 * earlier tiles and runs, each other within a tile, and two clues at once (the case the
 * set-wise path hands to the sequential one).
 */
const open: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(open.map((db) => db.drop()));
});

const TILES = ['50N-0053-0533', '50N-0054-0533', '50N-0053-0534'];
const AOI = { type: 'Polygon' as const, coordinates: rectPolygon(117.6, 49.3, 117.9, 49.5) };

/** Seeded detections of one tile: lattice rectangles of 1–3 cells on a 24 × 16 board. */
function detections(rand: () => number, run: number): ClueFeature[] {
  const cell = 0.0005;
  const count = 2 + Math.floor(rand() * 7);
  return Array.from({ length: count }, () => {
    const x = Math.floor(rand() * 24);
    const y = Math.floor(rand() * 16);
    const [w, s] = [117.7 + x * cell, 49.4 + y * cell];
    const [e, n] = [w + (1 + Math.floor(rand() * 3)) * cell, s + (1 + Math.floor(rand() * 3)) * cell];
    const day = `2025-0${6 + run}-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}`;
    const scenario = rand() < 0.75 ? 'mine' : 'river';
    return {
      type: 'Feature' as const,
      geometry: {
        type: 'MultiPolygon' as const,
        coordinates: [rectPolygon(w, s, e, n)],
      },
      properties: {
        scenario,
        status: 'new' as const,
        detector: scenario,
        model_version: `1.0.${run}`,
        model_sha256: `sha-${run}`,
        confidence: Math.round(rand() * 1000) / 1000,
        area_m2: 0,
        area_ha: 0,
        area_mu: 0,
        first_seen: day,
        last_seen: day,
        before_date: '2024-06-30',
        after_date: day,
        before_scene: `B${run}`,
        after_scene: `A${run}-${Math.floor(rand() * 100)}`,
        priority: Math.floor(rand() * 4),
        zones: [{ kind: 'mining_permit' as const, id: String(Math.floor(rand() * 5)) }],
        ...(rand() < 0.2 ? { also_scenarios: ['wetland'] } : {}),
      } as ClueFeature['properties'],
    };
  });
}

type Source = (run: number, tile: number) => ClueFeature[];

async function write(
  db: TestDatabase,
  source: Source,
  forceSequential: boolean,
  closeFirst = true,
): Promise<MergeResult[]> {
  const results: MergeResult[] = [];
  for (let run = 0; run < 3; run++) {
    const runId = await withTransaction(db.pool, (c) =>
      createRun(
        c,
        {
          aoi: AOI,
          before: { from: '2024-06-01', to: '2024-06-30' },
          after: { from: '2025-06-01', to: '2025-08-31' },
          scenarios: ['mine', 'river'],
          sensors: [],
          createdBy: 'test',
        },
        TILES,
      ),
    );
    await db.pool.query("UPDATE patrol_runs SET status = 'running' WHERE id = $1", [runId]);
    for (const [tile, tileId] of TILES.entries()) {
      const features = source(run, tile);
      results.push(
        await withTransaction(db.pool, async (c) => {
          expect(await lockTileForWrite(c, runId, tileId)).toBe(true);
          return writeTileDetections(
            c,
            { runId, tileId, actor: 'test', features, inputs: { tile } },
            { sequential: forceSequential },
          );
        }),
      );
    }
    // Between runs a prosecutor closes one clue: closed clues take no detections.
    if (run === 0 && closeFirst)
      await db.pool.query("UPDATE clues SET status = 'closed' WHERE id = (SELECT min(id) FROM clues)");
  }
  return results;
}

/** Every row the merge writes, run ids replaced by their order so two databases compare. */
async function snapshot(db: TestDatabase): Promise<unknown> {
  const runs = (await db.pool.query<{ id: string }>('SELECT id FROM patrol_runs ORDER BY created_at, id'))
    .rows;
  const runIndex = (text: string) => runs.reduce((acc, r, i) => acc.replaceAll(r.id, `run-${i}`), text);
  const q = async (sql: string) => runIndex(JSON.stringify((await db.pool.query(sql)).rows));
  return {
    clues: await q(
      `SELECT id, scenario, status, confidence, priority, ST_AsEWKT(geom) AS geom, area_m2, first_seen::text,
              last_seen::text, detector, model_version, model_sha256, run_id, last_run_id, runs_seen, before_scene,
              after_scene, inputs, peak_area_m2, previous_area_m2, merged_into, dismiss_reason, also_scenarios, tile_key
         FROM clues ORDER BY id`,
    ),
    detections: await q(
      `SELECT id, run_id, tile_id, scenario, clue_id, confidence, ST_AsEWKT(geom) AS geom, area_m2, properties
         FROM detections ORDER BY id`,
    ),
    events: await q(
      'SELECT id, clue_id, actor, kind, from_status, to_status, reason, data FROM clue_events ORDER BY id',
    ),
  };
}

describe('clue merge, set-wise against detection by detection', () => {
  it('leaves the same clues, detections and events on seeded runs, both paths exercised', async () => {
    const paths = { batch: 0, sequential: 0 };
    for (const seed of [11, 12, 13]) {
      // Fresh databases per seed (clue events are append-only: no truncating them).
      const [batch, sequential] = await Promise.all([createTestDatabase(), createTestDatabase()]);
      open.push(batch, sequential);
      const source =
        (r: () => number): Source =>
        (run) =>
          detections(r, run);
      const [a, b] = [
        await write(batch, source(mulberry32(seed)), false),
        await write(sequential, source(mulberry32(seed)), true),
      ];
      for (const r of a) paths[r.path]++;
      expect(b.every((r) => r.path === 'sequential')).toBe(true);
      // The same results per tile, path aside.
      expect(a.map(({ path: _, ...r }) => r)).toEqual(b.map(({ path: _, ...r }) => r));
      const [sa, sb] = [await snapshot(batch), await snapshot(sequential)];
      expect(sa).toEqual(sb);
    }
    // Both paths ran: most tiles set-wise, some handed over (a detection touching two clues).
    expect(paths.batch).toBeGreaterThan(paths.sequential);
    expect(paths.sequential).toBeGreaterThan(0);
  });

  it('folds several detections of one tile into an existing clue, and into a clue the tile creates, in order', async () => {
    // Run 0 creates a clue; in run 1 one tile's two separate detections both touch it (the
    // later after-scene, the latest date and the strongest confidence and priority win), and
    // a chain of three touching detections elsewhere makes one new clue.
    const sq = (x: number, y: number, w = 1, h = 1): ClueFeature['geometry'] => {
      const c = 0.0005;
      const [W, S, E, N] = [117.7 + x * c, 49.4 + y * c, 117.7 + (x + w) * c, 49.4 + (y + h) * c];
      return {
        type: 'MultiPolygon',
        coordinates: [rectPolygon(W, S, E, N)],
      };
    };
    const f = (
      geometry: ClueFeature['geometry'],
      day: string,
      after: string,
      confidence: number,
      priority: number,
    ) =>
      ({
        ...detections(mulberry32(1), 0)[0]!,
        geometry,
        properties: {
          ...detections(mulberry32(1), 0)[0]!.properties,
          scenario: 'mine',
          detector: 'mine',
          last_seen: day,
          first_seen: day,
          after_scene: after,
          confidence,
          priority,
        },
      }) as ClueFeature;
    const source: Source = (run, tile) =>
      tile !== 0
        ? []
        : run === 0
          ? [f(sq(0, 0, 4, 1), '2025-06-10', 'A0', 0.5, 1)]
          : run === 1
            ? [
                f(sq(0, 1), '2025-07-20', 'A1', 0.7, 0),
                f(sq(3, 1), '2025-07-05', 'A2', 0.6, 3),
                f(sq(10, 10), '2025-07-01', 'C1', 0.4, 1),
                f(sq(11, 10), '2025-07-09', 'C2', 0.8, 0),
                f(sq(12, 10), '2025-07-03', 'C3', 0.6, 2),
              ]
            : [];
    const [batch, sequential] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    open.push(batch, sequential);
    const a = await write(batch, source, false, false);
    const b = await write(sequential, source, true, false);
    expect(a.filter((r) => r.detections).map((r) => r.path)).toEqual(['batch', 'batch']);
    expect(a.map(({ path: _, ...r }) => r)).toEqual(b.map(({ path: _, ...r }) => r));
    expect(await snapshot(batch)).toEqual(await snapshot(sequential));
    const { rows } = await batch.pool.query(
      'SELECT after_scene, last_seen::text, confidence, priority, runs_seen FROM clues ORDER BY id',
    );
    // C3 does not touch C1, whose detection made the clue: it starts a clue of its own.
    expect(rows).toEqual([
      { after_scene: 'A2', last_seen: '2025-07-20', confidence: 0.7, priority: 3, runs_seen: 2 },
      { after_scene: 'C2', last_seen: '2025-07-09', confidence: 0.8, priority: 1, runs_seen: 1 },
      { after_scene: 'C3', last_seen: '2025-07-03', confidence: 0.6, priority: 2, runs_seen: 1 },
    ]);
  });
});
