import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getClue, queryClues } from '../../services/adapters/postgis/clue-store.ts';
import { finalizeRun, writeTileDetections } from '../../services/adapters/postgis/incident-store.ts';
import { clueConditions, SqlArgs } from '../../services/adapters/postgis/mvt-store.ts';
import {
  createRun,
  getRun,
  lockTileForWrite,
  markTileDone,
  setRunStatus,
} from '../../services/adapters/postgis/patrol-store.ts';
import { withTransaction } from '../../services/adapters/postgis/pool.ts';
import { grewMaterially, recheckVerdict } from '../../services/domain/patrols/patrol.ts';
import type { ClueFeature } from '../../services/usecases/detect-pair.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { rectPolygon } from '../support/geometry.ts';

/**
 * Clues as incidents, against PostGIS with hand-made detections: halves of one site in two
 * tiles are one clue; the site seen again in a later run keeps its clue; a dismissed site is
 * raised again only when it grew materially; a remediated site not seen again while observed
 * clear is "restored".
 */
let db: TestDatabase;
const TILE_A = '50N-0053-0533';
const TILE_B = '50N-0054-0533';
const rules = { actor: 'test', minAreaM2: { mine: 1000 }, grewMaterially, recheck: recheckVerdict };

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const rect = (w: number, s: number, e: number, n: number): number[][][][] => [rectPolygon(w, s, e, n)];

const feature = (coords: number[][][][], afterDate = '2025-07-01'): ClueFeature => ({
  type: 'Feature',
  geometry: { type: 'MultiPolygon', coordinates: coords },
  properties: {
    scenario: 'mine',
    status: 'new',
    detector: 'mine',
    model_version: '1.0.0',
    model_sha256: 'x',
    confidence: 0.9,
    area_m2: 0,
    area_ha: 0,
    area_mu: 0,
    first_seen: afterDate,
    last_seen: afterDate,
    before_date: '2024-06-30',
    after_date: afterDate,
    before_scene: 'b',
    after_scene: 'a',
  },
});

const AOI = { type: 'Polygon' as const, coordinates: rect(117.6, 49.3, 117.9, 49.5)[0]! };
const FULL = rect(117.6, 49.3, 117.9, 49.5);

/** A run over `tiles`, marked running as a worker's first tile would. */
async function runningRun(tiles: string[]): Promise<string> {
  const runId = await withTransaction(db.pool, (c) =>
    createRun(
      c,
      {
        aoi: AOI,
        before: { from: '2024-06-01', to: '2024-06-30' },
        after: { from: '2025-06-01', to: '2025-08-31' },
        scenarios: ['mine'],
        sensors: [],
        createdBy: 'test',
      },
      tiles,
    ),
  );
  await db.pool.query("UPDATE patrol_runs SET status = 'running', started_at = now() WHERE id = $1", [runId]);
  return runId;
}

/** A run over two tiles whose detections are given per tile; closes it like a worker would. */
async function run(perTile: Record<string, ClueFeature[]>, coverage = FULL) {
  const runId = await runningRun(Object.keys(perTile));
  for (const [tileId, features] of Object.entries(perTile)) {
    await withTransaction(db.pool, async (c) => {
      expect(await lockTileForWrite(c, runId, tileId)).toBe(true);
      await writeTileDetections(c, { runId, tileId, actor: 'test', features, inputs: {} });
      await markTileDone(c, {
        runId,
        tileId,
        coverage,
        detections: features.length,
        stages: {},
      });
    });
    // A second delivery of the same tile writes nothing.
    await withTransaction(db.pool, async (c) => expect(await lockTileForWrite(c, runId, tileId)).toBe(false));
  }
  const closed = await withTransaction(db.pool, (c) => finalizeRun(c, runId, rules));
  expect(closed?.status).toBe('done');
  expect(await withTransaction(db.pool, (c) => finalizeRun(c, runId, rules))).toBeNull();
  return { runId, closed: closed! };
}

const open = async () =>
  (
    await db.pool.query<{
      id: number;
      status: string;
      runs_seen: number;
      area: number;
      recheck: string | null;
    }>(
      `SELECT id, status, runs_seen, round(area_m2)::int AS area, recheck FROM clues WHERE merged_into IS NULL ORDER BY id`,
    )
  ).rows;

describe('clues as incidents', () => {
  it('two halves of a site on either side of a tile border are one clue', async () => {
    // A 200 m × 100 m pit split at lon 117.75 between tiles A and B.
    const { runId } = await run({
      [TILE_A]: [feature(rect(117.7486, 49.4, 117.75, 49.4009))],
      [TILE_B]: [feature(rect(117.75, 49.4, 117.7514, 49.4009))],
    });
    const clues = await open();
    expect(clues).toHaveLength(1);
    const det = await db.pool.query('SELECT clue_id FROM detections WHERE run_id = $1', [runId]);
    expect(det.rows.map((r) => r.clue_id)).toEqual([clues[0]!.id, clues[0]!.id]);
    // The clue's geometry is the union of both halves: one polygon of about 2 × 1 hectare halves.
    const g = await db.pool.query(
      'SELECT ST_NumGeometries(geom) AS parts, area_m2 FROM clues WHERE id = $1',
      [clues[0]!.id],
    );
    expect(g.rows[0].parts).toBe(1);
    expect(g.rows[0].area_m2).toBeGreaterThan(9000);
  });

  it('seen again in a later run: the same clue, seen_again with growth; dismissed stays dismissed unless grown', async () => {
    const [clue] = await open();
    await db.pool.query(
      "UPDATE clues SET status = 'dismissed', dismiss_reason = 'lawful_or_permitted' WHERE id = $1",
      [clue!.id],
    );
    // Slightly larger (+10 %): not material.
    await run({ [TILE_A]: [feature(rect(117.7486, 49.4, 117.7515, 49.4009), '2025-08-01')] });
    let now = await open();
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ id: clue!.id, status: 'dismissed', runs_seen: 2 });
    // Twice as large: raised again for review.
    const { closed } = await run({
      [TILE_A]: [feature(rect(117.7472, 49.4, 117.7528, 49.4009), '2025-08-15')],
    });
    expect(closed.reopened).toEqual([clue!.id]);
    now = await open();
    expect(now[0]).toMatchObject({ id: clue!.id, status: 'in_review', runs_seen: 3 });
    const ev = await db.pool.query<{ kind: string; reason: string | null; data: Record<string, number> }>(
      "SELECT kind, reason, data FROM clue_events WHERE clue_id = $1 AND kind IN ('seen_again', 'transition') ORDER BY id",
      [clue!.id],
    );
    expect(ev.rows.map((e) => [e.kind, e.reason])).toEqual([
      ['seen_again', null],
      ['seen_again', null],
      ['transition', 'grew_materially'],
    ]);
    expect(ev.rows[2]!.data.area_m2).toBeGreaterThan(ev.rows[2]!.data.previous_area_m2! * 1.5);
  });

  it('a clue under remediation: still damaged when seen; restored when observed clear and not seen', async () => {
    const [clue] = await open();
    await db.pool.query("UPDATE clues SET status = 'remediation_check' WHERE id = $1", [clue!.id]);
    const seen = await run({ [TILE_A]: [feature(rect(117.7472, 49.4, 117.7528, 49.4009))] });
    expect(seen.closed.rechecked).toEqual([{ id: clue!.id, result: 'still_damaged' }]);
    // Clouds over it: no verdict.
    const cloudy = await run({ [TILE_A]: [] }, rect(117.6, 49.3, 117.7, 49.35));
    expect(cloudy.closed.rechecked).toEqual([]);
    const clear = await run({ [TILE_A]: [] });
    expect(clear.closed.rechecked).toEqual([{ id: clue!.id, result: 'restored' }]);
    expect((await open())[0]).toMatchObject({ recheck: 'restored', status: 'remediation_check' });
  });
});

describe('tile writes of one run from several workers', () => {
  /** One tile's write transaction, as processTile does it (no conflict retry: the locks must not deadlock). */
  const write = (runId: string, tileId: string, f: ClueFeature[], hold?: Promise<void>) =>
    withTransaction(db.pool, async (c) => {
      if (!(await lockTileForWrite(c, runId, tileId))) return false;
      await hold;
      await writeTileDetections(c, { runId, tileId, actor: 'test', features: f, inputs: {} });
      await markTileDone(c, { runId, tileId, coverage: FULL, detections: f.length, stages: {} });
      return true;
    });

  it('two tiles written at once both commit (no deadlock on the run row) and are both counted', async () => {
    const runId = await runningRun([TILE_A, TILE_B]);
    let release!: () => void;
    const hold = new Promise<void>((r) => {
      release = r;
    });
    // Both transactions hold their tile and run locks before either writes: the interleaving
    // that deadlocked when tile writers share-locked the run row and then both updated it.
    const a = write(runId, TILE_A, [feature(rect(117.7, 49.38, 117.71, 49.39))], hold);
    const b = write(runId, TILE_B, [feature(rect(117.8, 49.38, 117.81, 49.39))], hold);
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect(await Promise.all([a, b])).toEqual([true, true]);
    expect((await getRun(db.pool, runId))?.tilesDone).toBe(2);
  });

  it('a cancel waits for a tile write in flight; a write after the cancel writes nothing', async () => {
    const runId = await runningRun([TILE_A, TILE_B]);
    let release!: () => void;
    const hold = new Promise<void>((r) => {
      release = r;
    });
    const order: string[] = [];
    const a = write(runId, TILE_A, [], hold).then((ok) => {
      order.push('tile');
      return ok;
    });
    await new Promise((r) => setTimeout(r, 100));
    const cancel = setRunStatus(db.pool, runId, 'cancelled', ['queued', 'running']).then((ok) => {
      order.push('cancel');
      return ok;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual([]); // the cancel is waiting for the tile's transaction
    release();
    expect(await a).toBe(true);
    expect(await cancel).toBe(true);
    expect(order).toEqual(['tile', 'cancel']);
    expect(await write(runId, TILE_B, [])).toBe(false);
    const r = await getRun(db.pool, runId);
    expect(r).toMatchObject({ status: 'cancelled', tilesDone: 1 });
  });
});

describe('withTransaction with retryConflicts', () => {
  it('runs a transaction again after a real deadlock, and never after other errors', async () => {
    await db.pool.query('CREATE TABLE IF NOT EXISTS tx_retry_probe (id int PRIMARY KEY, v int)');
    await db.pool.query('INSERT INTO tx_retry_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING');
    // Two transactions lock rows 1 and 2 in opposite orders: PostgreSQL aborts one with 40P01;
    // with retries both end committed.
    const calls = { a: 0, b: 0 };
    const barrier = (() => {
      let n = 0;
      let open!: () => void;
      const p = new Promise<void>((r) => {
        open = r;
      });
      return () => {
        if (++n === 2) open();
        return p;
      };
    })();
    const tx = (first: number, second: number, key: 'a' | 'b') =>
      withTransaction(
        db.pool,
        async (c) => {
          calls[key]++;
          await c.query('UPDATE tx_retry_probe SET v = v + 1 WHERE id = $1', [first]);
          if (calls[key] === 1) await barrier();
          await c.query('UPDATE tx_retry_probe SET v = v + 1 WHERE id = $1', [second]);
          return key;
        },
        { retryConflicts: 2 },
      );
    expect(await Promise.all([tx(1, 2, 'a'), tx(2, 1, 'b')])).toEqual(['a', 'b']);
    expect(calls.a + calls.b).toBe(3); // one of them ran twice
    const { rows } = await db.pool.query<{ v: number }>('SELECT v FROM tx_retry_probe ORDER BY id');
    expect(rows.map((r) => r.v)).toEqual([2, 2]); // the aborted attempt left nothing behind

    let other = 0;
    await expect(
      withTransaction(
        db.pool,
        async () => {
          other++;
          throw Object.assign(new Error('unique'), { code: '23505' });
        },
        { retryConflicts: 3 },
      ),
    ).rejects.toThrow('unique');
    expect(other).toBe(1);
  });
});

describe('a site several scenarios found', () => {
  it('keeps the scenarios folded into its clue (also_scenarios), from every detection, once each', async () => {
    const withAlso = (coords: number[][][][], also: string[]): ClueFeature => {
      const f = feature(coords);
      (f.properties as ClueFeature['properties'] & { also_scenarios: string[] }).also_scenarios = also;
      return f;
    };
    // One pit cut by the tile border; each half was also claimed by other scenarios' detectors.
    await run({
      [TILE_A]: [withAlso(rect(117.6986, 49.35, 117.7, 49.3509), ['wetland'])],
      [TILE_B]: [
        withAlso(rect(117.7, 49.35, 117.7014, 49.3509), ['wetland', 'river']),
        // Another site, nobody else's.
        feature(rect(117.72, 49.35, 117.7214, 49.3509)),
      ],
    });
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT id FROM clues WHERE merged_into IS NULL
          AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(117.7, 49.3504), 4326))`,
    );
    expect(rows).toHaveLength(1);
    const clue = await getClue(db.pool, rows[0]!.id);
    expect(clue?.properties.also_scenarios).toEqual(['river', 'wetland']);
    // A clue no other scenario claimed has none.
    const { rows: other } = await db.pool.query<{ id: number }>(
      `SELECT id FROM clues WHERE merged_into IS NULL
          AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(117.7207, 49.3504), 4326))`,
    );
    expect(other).toHaveLength(1);
    expect((await getClue(db.pool, other[0]!.id))?.properties.also_scenarios).toEqual([]);

    // Stored on the clue (kept by the detections trigger through the merge across the tile
    // border): the clue the other half was merged into keeps nothing of it.
    const { rows: stored } = await db.pool.query<{ id: number; also: string[]; merged: boolean }>(
      `SELECT id, also_scenarios AS also, merged_into IS NOT NULL AS merged FROM clues
        WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(117.7, 49.3504), 4326)) ORDER BY id`,
    );
    expect(stored.filter((r) => !r.merged).map((r) => r.also)).toEqual([['river', 'wetland']]);
    for (const r of stored.filter((r) => r.merged)) expect(r.also).toEqual([]);

    // Filters: "concerns wetland" finds the site (its own scenario is another), not the other one.
    const concerns = await queryClues(db.pool, { concerns: 'wetland', limit: 1000, offset: 0 });
    const ids = concerns.rows.map((r) => r.id);
    expect(ids).toContain(rows[0]!.id);
    expect(ids).not.toContain(other[0]!.id);
    for (const r of concerns.rows)
      expect([r.properties.scenario, ...(r.properties.also_scenarios as string[])]).toContain('wetland');
    const byScenario = await queryClues(db.pool, { scenario: 'wetland', limit: 1000, offset: 0 });
    expect(byScenario.rows.map((r) => r.id)).not.toContain(rows[0]!.id);
    const args = new SqlArgs();
    const where = clueConditions({ concerns: ['river', 'forest-encroachment'] }, args);
    const { rows: tiles } = await db.pool.query<{ id: number }>(
      `SELECT c.id FROM clues c WHERE c.merged_into IS NULL AND ${where.join(' AND ')}`,
      args.values,
    );
    expect(tiles.map((r) => r.id)).toContain(rows[0]!.id);
    expect(tiles.map((r) => r.id)).not.toContain(other[0]!.id);

    // A detection deleted (its run deleted) takes its scenarios off the clue.
    await db.pool.query('DELETE FROM detections WHERE clue_id = $1', [rows[0]!.id]);
    expect((await getClue(db.pool, rows[0]!.id))?.properties.also_scenarios).toEqual([]);
  });
});
