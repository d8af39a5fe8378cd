import type pg from 'pg';
import { type AoiGeometry, tileById } from '../../domain/geo/analysis-grid.ts';
import { etaSeconds } from '../../domain/patrols/patrol.ts';

/** Patrol runs and their tiles in PostGIS: the source of truth a queue can be rebuilt from. */

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Window {
  from: string;
  to: string;
}

export interface NewRun {
  name?: string | null;
  aoi: AoiGeometry;
  before: Window;
  after: Window;
  scenarios: string[];
  sensors: string[];
  createdBy: string;
  scheduleId?: string | null;
  params?: Record<string, unknown>;
}

export interface RunRow {
  id: string;
  name: string | null;
  status: RunStatus;
  before: Window;
  after: Window;
  scenarios: string[];
  sensors: string[];
  tilesTotal: number;
  tilesDone: number;
  tilesFailed: number;
  etaSeconds: number | null;
  coveredKm2: number | null;
  clueCount: number;
  createdBy: string | null;
  scheduleId: string | null;
  params: Record<string, unknown>;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const RUN_COLUMNS = `r.id, r.name, r.status, r.before_from, r.before_to, r.after_from, r.after_to, r.scenarios,
  r.sensors, r.tiles_total, r.tiles_done, r.tiles_failed, r.covered_km2, r.created_by, r.schedule_id, r.params,
  r.error, r.created_at, r.started_at, r.finished_at,
  EXTRACT(EPOCH FROM (COALESCE(r.finished_at, now()) - r.started_at))::float8 AS elapsed,
  (SELECT count(*)::int FROM clues c WHERE c.last_run_id = r.id AND c.merged_into IS NULL) AS clue_count`;

function toRun(r: Record<string, unknown>): RunRow {
  const progress = {
    tilesTotal: r.tiles_total as number,
    tilesDone: r.tiles_done as number,
    tilesFailed: r.tiles_failed as number,
  };
  const ts = (v: unknown) => (v ? (v as Date).toISOString() : null);
  return {
    id: r.id as string,
    name: (r.name as string | null) ?? null,
    status: r.status as RunStatus,
    before: { from: r.before_from as string, to: r.before_to as string },
    after: { from: r.after_from as string, to: r.after_to as string },
    scenarios: r.scenarios as string[],
    sensors: r.sensors as string[],
    ...progress,
    etaSeconds: r.status === 'running' ? etaSeconds(progress, (r.elapsed as number | null) ?? 0) : null,
    coveredKm2: (r.covered_km2 as number | null) ?? null,
    clueCount: r.clue_count as number,
    createdBy: (r.created_by as string | null) ?? null,
    scheduleId: (r.schedule_id as string | null) ?? null,
    params: (r.params as Record<string, unknown>) ?? {},
    error: (r.error as string | null) ?? null,
    createdAt: ts(r.created_at)!,
    startedAt: ts(r.started_at),
    finishedAt: ts(r.finished_at),
  };
}

/** Insert a run and all its tiles (in batches: a 10,000-tile run never builds one huge query). */
export async function createRun(client: pg.PoolClient, run: NewRun, tileIds: string[]): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO patrol_runs (name, aoi, before_from, before_to, after_from, after_to, scenarios, sensors,
                              status, tiles_total, created_by, schedule_id, params)
     VALUES ($1, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)), $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $12)
     RETURNING id`,
    [
      run.name ?? null,
      JSON.stringify(run.aoi),
      run.before.from,
      run.before.to,
      run.after.from,
      run.after.to,
      run.scenarios,
      run.sensors,
      tileIds.length,
      run.createdBy,
      run.scheduleId ?? null,
      JSON.stringify(run.params ?? {}),
    ],
  );
  const runId = rows[0]!.id;
  const BATCH = 1000;
  for (let i = 0; i < tileIds.length; i += BATCH) {
    const ids = tileIds.slice(i, i + BATCH);
    const bounds = ids.map((id) =>
      JSON.stringify({ type: 'Polygon', coordinates: [tileById(id).polygonLonLat] }),
    );
    await client.query(
      `INSERT INTO patrol_tiles (run_id, tile_id, bounds)
       SELECT $1, t.id, ST_SetSRID(ST_GeomFromGeoJSON(t.b), 4326)
         FROM unnest($2::text[], $3::text[]) AS t(id, b)`,
      [runId, ids, bounds],
    );
  }
  return runId;
}

export async function getRun(db: pg.Pool | pg.PoolClient, id: string): Promise<RunRow | null> {
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS} FROM patrol_runs r WHERE r.id = $1`, [id]);
  return rows[0] ? toRun(rows[0]) : null;
}

export async function listRuns(
  db: pg.Pool,
  o: { limit: number; offset: number; status?: string },
): Promise<{ runs: RunRow[]; total: number }> {
  const where = o.status ? 'WHERE r.status = $3' : '';
  const args: unknown[] = [o.limit, o.offset];
  if (o.status) args.push(o.status);
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS}, count(*) OVER ()::int AS total FROM patrol_runs r ${where}
      ORDER BY r.created_at DESC, r.id LIMIT $1 OFFSET $2`,
    args,
  );
  return { runs: rows.map(toRun), total: (rows[0]?.total as number | undefined) ?? 0 };
}

/** A tile job starts: count the attempt, mark the run running. Returns the statuses it found. */
export async function startTile(
  db: pg.Pool,
  runId: string,
  tileId: string,
): Promise<{ run: RunStatus; tile: string } | null> {
  const { rows } = await db.query<{ run: RunStatus; tile: string }>(
    `WITH t AS (
       UPDATE patrol_tiles SET status = 'running', attempts = attempts + 1, started_at = now()
        WHERE run_id = $1 AND tile_id = $2 AND status IN ('queued', 'running')
          AND (SELECT status FROM patrol_runs WHERE id = $1) IN ('queued', 'running')
        RETURNING status),
     r AS (
       UPDATE patrol_runs SET status = 'running', started_at = COALESCE(started_at, now())
        WHERE id = $1 AND status = 'queued' AND EXISTS (SELECT 1 FROM t)
        RETURNING status)
     SELECT (SELECT status FROM patrol_runs WHERE id = $1) AS run,
            COALESCE((SELECT status FROM t), (SELECT status FROM patrol_tiles WHERE run_id = $1 AND tile_id = $2)) AS tile`,
    [runId, tileId],
  );
  const row = rows[0];
  return row?.run ? { run: row.run === 'queued' ? 'running' : row.run, tile: row.tile } : null;
}

/**
 * Lock the tile row for the rest of the transaction. False when it is already done (a retried
 * or duplicated job) or its run is no longer running (cancelled mid-tile: the tile stays
 * unfinished for a resume): the caller writes nothing.
 */
export async function lockTileForWrite(
  client: pg.PoolClient,
  runId: string,
  tileId: string,
): Promise<boolean> {
  // The run row is key-share locked: a status change (setRunStatus locks the row FOR UPDATE)
  // waits for this write, or this write sees it. KEY SHARE, not SHARE: tile writers of one run
  // then do not block each other's `tiles_done` increment (markTileDone). With SHARE two writers
  // each held the share lock and each waited for the other's to upgrade: a deadlock, and a
  // tile computed again, whenever two workers finished tiles of one run at once.
  const { rows } = await client.query<{ status: string; run: string }>(
    `SELECT t.status, r.status AS run FROM patrol_tiles t JOIN patrol_runs r ON r.id = t.run_id
      WHERE t.run_id = $1 AND t.tile_id = $2 FOR UPDATE OF t FOR KEY SHARE OF r`,
    [runId, tileId],
  );
  return rows[0] !== undefined && rows[0].status !== 'done' && rows[0].run === 'running';
}

export async function markTileDone(
  client: pg.PoolClient,
  t: {
    runId: string;
    tileId: string;
    coverage: number[][][][] | null;
    detections: number;
    stages: Record<string, number>;
  },
): Promise<void> {
  // The coverage geometry is built once and its ellipsoidal area taken from the same value.
  await client.query(
    `UPDATE patrol_tiles t SET status = 'done', finished_at = now(), error_code = NULL, error = NULL,
            detections = $4, stages = $5, coverage = c.g,
            covered_km2 = COALESCE(ST_Area(c.g::geography) / 1e6, 0)
       FROM (SELECT CASE WHEN $3::text IS NULL THEN NULL
                    ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($3), 4326)), 3))
                    END AS g) c
      WHERE t.run_id = $1 AND t.tile_id = $2`,
    [
      t.runId,
      t.tileId,
      t.coverage?.length ? JSON.stringify({ type: 'MultiPolygon', coordinates: t.coverage }) : null,
      t.detections,
      JSON.stringify(t.stages),
    ],
  );
  await client.query('UPDATE patrol_runs SET tiles_done = tiles_done + 1 WHERE id = $1', [t.runId]);
}

/** A tile that failed for good: its reason recorded; counted once however often it is reported. */
export async function markTileFailed(
  db: pg.Pool,
  runId: string,
  tileId: string,
  code: string,
  message: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH t AS (
       UPDATE patrol_tiles SET status = 'failed', error_code = $3, error = $4, finished_at = now()
        WHERE run_id = $1 AND tile_id = $2 AND status IN ('queued', 'running')
        RETURNING 1)
     UPDATE patrol_runs SET tiles_failed = tiles_failed + 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM t)`,
    [runId, tileId, code, message.slice(0, 2000)],
  );
  return (rowCount ?? 0) > 0;
}

/** Tiles still to do (queued or running), in pages: what a resume or a reconcile re-enqueues. */
export async function pendingTiles(
  db: pg.Pool,
  runId: string,
  after: string,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query<{ tile_id: string }>(
    `SELECT tile_id FROM patrol_tiles WHERE run_id = $1 AND status IN ('queued', 'running') AND tile_id > $2
      ORDER BY tile_id LIMIT $3`,
    [runId, after, limit],
  );
  return rows.map((r) => r.tile_id);
}

export async function activeRunIds(db: pg.Pool): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM patrol_runs WHERE status IN ('queued', 'running') ORDER BY created_at",
  );
  return rows.map((r) => r.id);
}

export interface TileEvent {
  tileId: string;
  status: string;
  finishedAt: string;
  /** The finish time at full (microsecond) precision: the stream's cursor. */
  cursor: string;
  clueIds: number[];
  errorCode: string | null;
}

/** Tiles finished since a time (for the progress stream), oldest first. */
export async function tilesFinishedSince(
  db: pg.Pool,
  runId: string,
  since: string | null,
  limit = 500,
): Promise<TileEvent[]> {
  const { rows } = await db.query(
    `SELECT t.tile_id, t.status, t.finished_at::text AS cursor, t.error_code,
            COALESCE((SELECT array_agg(DISTINCT d.clue_id) FROM detections d
                       WHERE d.run_id = t.run_id AND d.tile_id = t.tile_id AND d.clue_id IS NOT NULL), '{}') AS clue_ids
       FROM patrol_tiles t
      WHERE t.run_id = $1 AND t.status IN ('done', 'failed') AND ($2::timestamptz IS NULL OR t.finished_at > $2)
      ORDER BY t.finished_at, t.tile_id LIMIT $3`,
    [runId, since, limit],
  );
  return rows.map((r) => ({
    tileId: r.tile_id as string,
    status: r.status as string,
    finishedAt: new Date(r.cursor as string).toISOString(),
    cursor: r.cursor as string,
    clueIds: (r.clue_ids as number[]).map(Number),
    errorCode: (r.error_code as string | null) ?? null,
  }));
}

export async function setRunStatus(
  db: pg.Pool,
  runId: string,
  to: RunStatus,
  from: RunStatus[],
): Promise<boolean> {
  // FOR UPDATE first: it waits for tile writes in flight (they hold KEY SHARE, which a plain
  // UPDATE would not wait for), so no tile is written `done` after its run was cancelled.
  const { rowCount } = await db.query(
    `WITH l AS (SELECT id FROM patrol_runs WHERE id = $1 FOR UPDATE)
     UPDATE patrol_runs r SET status = $2, finished_at = CASE WHEN $2 IN ('done', 'failed', 'cancelled') THEN now() ELSE NULL END
       FROM l WHERE r.id = l.id AND r.status = ANY($3)`,
    [runId, to, from],
  );
  return (rowCount ?? 0) > 0;
}

/** Resume: failed tiles go back to the queue. Returns how many. */
export async function requeueFailedTiles(db: pg.Pool, runId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH t AS (
       UPDATE patrol_tiles SET status = 'queued', error_code = NULL, error = NULL, finished_at = NULL
        WHERE run_id = $1 AND status = 'failed' RETURNING 1),
     r AS (UPDATE patrol_runs SET tiles_failed = tiles_failed - (SELECT count(*) FROM t) WHERE id = $1)
     SELECT count(*)::int AS n FROM t`,
    [runId],
  );
  return rows[0]?.n ?? 0;
}
