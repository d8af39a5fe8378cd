import type { Queue } from 'bullmq';
import type pg from 'pg';
import { type LoadedDetector, listDetectorIds } from '../adapters/files/detector-registry.ts';
import { finalizeRun, writeTileDetections } from '../adapters/postgis/incident-store.ts';
import {
  activeRunIds,
  createRun,
  getRun,
  lockTileForWrite,
  markTileDone,
  markTileFailed,
  pendingTiles,
  type RunRow,
  requeueFailedTiles,
  setRunStatus,
  startTile,
} from '../adapters/postgis/patrol-store.ts';
import { withTransaction } from '../adapters/postgis/pool.ts';
import { decodeClock } from '../adapters/raster/decoders.ts';
import {
  enqueueTiles,
  ensureTileJobs,
  type PatrolJobData,
  removeTileJobs,
  type TileJobData,
} from '../adapters/redis/patrol-queue.ts';
import { SkypatrolError } from '../core/errors.ts';
import { polygonize } from '../domain/detectors/polygonize.ts';
import { type AoiGeometry, tileById, tileIdsForAoi } from '../domain/geo/analysis-grid.ts';
import { aoiFromGeoJson } from '../domain/geo/aoi.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { pixelToMap } from '../domain/geo/grid.ts';
import { PROFILES, type SensorId } from '../domain/imagery/sensors.ts';
import { grewMaterially, recheckVerdict } from '../domain/patrols/patrol.ts';
import { bandsFor, detectTile, requiredBandsFor, zonesForTile } from './detect-tile.ts';
import { compositeTile } from './read-tile.ts';

/**
 * Patrols on the queue. A run (AOI, windows, scenarios) is stored in PostGIS with one row per
 * analysis tile, then one BullMQ job per tile. A tile job reads and composites both windows
 * once, runs every requested detector, applies their zoning rules and writes the detections,
 * the clues they make or join, and the tile's clear-observed coverage in one transaction that
 * first locks the tile row: a retried, duplicated or resumed job finds the tile done and
 * writes nothing. PostGIS is the source of truth; `reconcile` rebuilds lost queue state.
 */

export interface PatrolRequest {
  name?: string;
  /** GeoJSON Polygon/MultiPolygon/Feature/FeatureCollection in EPSG:4326 … */
  aoi?: unknown;
  /** … or a county adcode from the admin_division zoning layer. */
  county?: string;
  before: { from: string; to: string };
  after: { from: string; to: string };
  /** Detector ids; all installed detectors when empty. */
  scenarios?: string[];
  sensors?: string[];
  actor: string;
  scheduleId?: string;
}

export interface PatrolDeps {
  pool: pg.Pool;
  queue: Queue<PatrolJobData>;
  detectorsDir: string;
  maxTiles: number;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function checkWindow(name: string, w: { from: string; to: string } | undefined): void {
  if (!w || !DATE.test(w.from ?? '') || !DATE.test(w.to ?? ''))
    throw new SkypatrolError('VALIDATION', `${name} window must be {from, to} dates (YYYY-MM-DD)`);
  for (const d of [w.from, w.to])
    if (
      Number.isNaN(Date.parse(`${d}T00:00:00Z`)) ||
      new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d
    )
      throw new SkypatrolError('VALIDATION', `${name} window: ${d} is not a calendar date`);
  if (w.from > w.to)
    throw new SkypatrolError('VALIDATION', `${name} window: from ${w.from} is after to ${w.to}`);
}

async function resolveAoi(pool: pg.Pool, req: PatrolRequest): Promise<AoiGeometry> {
  if ((req.aoi === undefined) === (req.county === undefined))
    throw new SkypatrolError('VALIDATION', 'give exactly one of aoi (GeoJSON) or county (adcode)');
  if (req.aoi !== undefined) return aoiFromGeoJson(req.aoi);
  if (!/^\d{6}$/.test(req.county!))
    throw new SkypatrolError(
      'VALIDATION',
      `county must be a 6-digit adcode, got ${JSON.stringify(req.county)}`,
    );
  const { rows } = await pool.query<{ g: string }>(
    `SELECT ST_AsGeoJSON(geom, 9) AS g FROM zones
      WHERE kind = 'admin_division' AND properties->>'adcode' = $1 ORDER BY id LIMIT 1`,
    [req.county],
  );
  if (!rows[0])
    throw new SkypatrolError('NOT_FOUND', `county ${req.county} is not in the admin_division zoning layer`);
  return JSON.parse(rows[0].g) as AoiGeometry;
}

/** Validate, store the run and its tiles, enqueue the tile jobs. */
export async function planPatrol(
  deps: PatrolDeps,
  req: PatrolRequest,
): Promise<RunRow & { warning?: string }> {
  checkWindow('before', req.before);
  checkWindow('after', req.after);
  if (req.before.to > req.after.from)
    throw new SkypatrolError(
      'VALIDATION',
      `the before window must end before the after window starts (${req.before.to} > ${req.after.from})`,
    );
  const installed = await listDetectorIds(deps.detectorsDir);
  const scenarios = req.scenarios?.length ? [...new Set(req.scenarios)] : installed;
  const unknown = scenarios.filter((s) => !installed.includes(s));
  if (unknown.length)
    throw new SkypatrolError(
      'VALIDATION',
      `unknown scenario ${unknown.join(', ')} (installed: ${installed.join(', ')})`,
    );
  if (!scenarios.length)
    throw new SkypatrolError(
      'VALIDATION',
      `no detectors are installed in ${deps.detectorsDir} (SKYPATROL_DETECTORS_DIR)`,
    );
  const aoi = await resolveAoi(deps.pool, req);
  const tileIds = tileIdsForAoi(aoi);
  if (!tileIds.length) throw new SkypatrolError('VALIDATION', 'the AOI covers no analysis tile');
  if (tileIds.length > deps.maxTiles)
    throw new SkypatrolError(
      'AOI_TOO_LARGE',
      `the AOI needs ${tileIds.length} tiles (≈ ${Math.round(tileIds.length * 104.9)} km²); at most ${deps.maxTiles} are allowed per patrol`,
    );
  const runId = await withTransaction(deps.pool, (client) =>
    createRun(
      client,
      {
        name: req.name ?? null,
        aoi,
        before: req.before,
        after: req.after,
        scenarios,
        sensors: req.sensors ?? [],
        createdBy: req.actor,
        scheduleId: req.scheduleId ?? null,
        params: req.county ? { county: req.county } : {},
      },
      tileIds,
    ),
  );
  // The run is stored; if Redis is down now, reconcile enqueues its tiles once it is back.
  const queued = await enqueueTiles(deps.queue, runId, tileIds).then(
    () => true,
    () => false,
  );
  const run = (await getRun(deps.pool, runId))!;
  return queued
    ? run
    : {
        ...run,
        warning: 'the queue (Redis) is unreachable: the run is stored and will be queued when it is back',
      };
}

export interface TileOutcome {
  status: 'done' | 'skipped';
  reason?: string;
  detections: number;
  clues: number[];
  stages: Record<string, number>;
  /** Detectors not run on the tile: their zoning rule could keep no clue there. */
  skippedDetectors?: string[];
  /** How the clue merge ran (incident-store.ts): set-wise, or detection by detection. */
  clueWrite?: 'batch' | 'sequential';
}

export interface TileWorkerDeps {
  pool: pg.Pool;
  detectors: (ids: string[]) => Promise<LoadedDetector[]>;
  actor?: string;
  /** Chain of custody for new clues (hashes of the input scene assets); optional. */
  custody?: (sceneIds: string[]) => Promise<unknown>;
  /** Skip detectors whose zoning rule can keep nothing on a tile (default true; config.zoneGate). */
  zoneGate?: boolean;
}

/** One tile of a run, end to end. Throws on failure (the queue retries or records it). */
export async function processTile(deps: TileWorkerDeps, job: TileJobData): Promise<TileOutcome> {
  const { pool } = deps;
  const stages: Record<string, number> = {
    read: 0,
    decode: 0,
    composite: 0,
    inference: 0,
    polygonize: 0,
    database: 0,
  };
  const started = await startTile(pool, job.runId, job.tileId);
  if (!started) return { status: 'skipped', reason: 'unknown run or tile', detections: 0, clues: [], stages };
  if (started.run !== 'running')
    return { status: 'skipped', reason: `run is ${started.run}`, detections: 0, clues: [], stages };
  if (started.tile === 'done')
    return { status: 'skipped', reason: 'tile already done', detections: 0, clues: [], stages };
  const run = (await getRun(pool, job.runId))!;
  const tile = tileById(job.tileId);
  const detectors = await deps.detectors(run.scenarios);
  const bands = bandsFor(detectors);
  const timings = { read: 0, composite: 0 };
  const decoded = decodeClock.ms;
  // Sensors with every band the detectors read (SWIR included) make the composites; sensors
  // without some optional band (GF: no SWIR) are not broken scenes and are never marked so:
  // they serve, with the required bands only, where the others saw nothing (the detectors then
  // switch to their no-SWIR fallback models).
  const sensors = run.sensors.length ? run.sensors : (Object.keys(PROFILES) as SensorId[]);
  const full = sensors.filter((id) => {
    const p = PROFILES[id as SensorId];
    return p && bands.every((b) => Object.values(p.assetKeys).some((k) => k.common === b));
  });
  let before = null;
  let after = null;
  if (full.length) {
    before = await compositeTile(pool, tile, run.before, bands, { timings, sensors: full });
    after = before && (await compositeTile(pool, tile, run.after, bands, { timings, sensors: full }));
  }
  if ((!before || !after) && full.length < sensors.length) {
    const required = requiredBandsFor(detectors);
    before = await compositeTile(pool, tile, run.before, required, { timings, sensors });
    after = before && (await compositeTile(pool, tile, run.after, required, { timings, sensors }));
  }
  // read = fetching, warping and masking; decode = inflating blocks and undoing predictors.
  stages.decode = decodeClock.ms - decoded;
  stages.read = Math.max(0, timings.read - stages.decode);
  stages.composite = timings.composite;

  let features: Awaited<ReturnType<typeof detectTile>>['features'] = [];
  let skippedDetectors: string[] = [];
  let coverage: number[][][][] | null = null;
  let custody: unknown = null;
  if (before && after) {
    const t0 = performance.now();
    const zones = await zonesForTile(pool, tile, detectors);
    const detected = await detectTile({
      tile,
      before,
      after,
      detectors,
      zones,
      windows: { before: run.before, after: run.after },
      gate: deps.zoneGate !== false,
    });
    features = detected.features;
    skippedDetectors = detected.skipped;
    const t1 = performance.now();
    stages.inference = t1 - t0;
    // The clear-observed area of both windows is what this tile actually patrolled.
    const n = tile.grid.width * tile.grid.height;
    const valid = new Float32Array(n);
    for (let i = 0; i < n; i++) valid[i] = before.valid[i]! & after.valid[i]!;
    const toLonLat = toLonLatFn(tile.epsg)!;
    const cov = polygonize({
      width: tile.grid.width,
      height: tile.grid.height,
      probability: valid,
      threshold: 0.5,
      minAreaM2: 0,
      toLonLat: (x, y) => {
        const [mx, my] = pixelToMap(tile.grid, x, y);
        return toLonLat(mx, my);
      },
    });
    coverage = cov.flatMap((c) => c.coordinates);
    stages.polygonize = performance.now() - t1;
    if (features.length && deps.custody)
      custody = await deps.custody([...before.scenes, ...after.scenes]).catch(() => null);
  }
  const t2 = performance.now();
  const written = await withTransaction(
    pool,
    async (client) => {
      if (!(await lockTileForWrite(client, job.runId, job.tileId))) return null;
      const merge = await writeTileDetections(client, {
        runId: job.runId,
        tileId: job.tileId,
        actor: deps.actor ?? 'patrol',
        features,
        inputs: {
          before: before?.scenes ?? [],
          after: after?.scenes ?? [],
          ...(custody ? { custody } : {}),
        },
      });
      stages.database = performance.now() - t2;
      await markTileDone(client, {
        runId: job.runId,
        tileId: job.tileId,
        coverage,
        detections: merge.detections,
        stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v)])),
      });
      return merge;
    },
    { retryConflicts: 3 },
  );
  if (!written)
    return {
      status: 'skipped',
      reason: 'tile already done, or its run stopped meanwhile',
      detections: 0,
      clues: [],
      stages,
    };
  await finishRunIfComplete(deps, job.runId);
  return {
    status: 'done',
    detections: written.detections,
    clues: [...new Set([...written.created, ...written.joined])],
    stages,
    skippedDetectors,
    clueWrite: written.path,
  };
}

/** A tile that will not be retried: recorded with its reason; the run goes on without it. */
export async function failTile(
  deps: TileWorkerDeps,
  job: TileJobData,
  code: string,
  message: string,
): Promise<void> {
  await markTileFailed(deps.pool, job.runId, job.tileId, code, message);
  await finishRunIfComplete(deps, job.runId);
}

/** Close the run if every tile is finished (once, whoever gets there first). */
export async function finishRunIfComplete(deps: TileWorkerDeps, runId: string): Promise<boolean> {
  const run = await getRun(deps.pool, runId);
  if (run?.status !== 'running' || run.tilesDone + run.tilesFailed < run.tilesTotal) return false;
  // A run whose detector cannot load (every tile failed for it) must still close.
  const detectors = await deps.detectors(run.scenarios).catch(() => []);
  const minAreaM2 = Object.fromEntries(detectors.map((d) => [d.manifest.id, d.manifest.minAreaM2]));
  const r = await withTransaction(deps.pool, (client) =>
    finalizeRun(client, runId, {
      actor: deps.actor ?? 'patrol',
      minAreaM2,
      grewMaterially,
      recheck: recheckVerdict,
    }),
  );
  return r !== null;
}

/** Stop a run: no tile starts any more; tiles already written stay. */
export async function cancelPatrol(
  pool: pg.Pool,
  queue: Queue<PatrolJobData>,
  runId: string,
): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (!run) throw new SkypatrolError('NOT_FOUND', `no patrol run ${runId}`);
  if (!(await setRunStatus(pool, runId, 'cancelled', ['queued', 'running'])))
    throw new SkypatrolError(
      'PATROL_STATE',
      `run ${runId} is ${run.status}; only a queued or running run can be cancelled`,
    );
  // Jobs still waiting are removed; one already running finds the run cancelled and skips.
  for (let after = ''; ; ) {
    const ids = await pendingTiles(pool, runId, after, 1000);
    if (!ids.length) break;
    await removeTileJobs(queue, runId, ids).catch(() => 0);
    after = ids.at(-1)!;
  }
  return (await getRun(pool, runId))!;
}

/** Take a cancelled or failed run (or one with failed tiles) up again where it stopped. */
export async function resumePatrol(
  pool: pg.Pool,
  queue: Queue<PatrolJobData>,
  runId: string,
): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (!run) throw new SkypatrolError('NOT_FOUND', `no patrol run ${runId}`);
  if (run.status === 'running' || run.status === 'queued')
    throw new SkypatrolError('PATROL_STATE', `run ${runId} is already ${run.status}`);
  if (run.status === 'done' && run.tilesFailed === 0)
    throw new SkypatrolError('PATROL_STATE', `run ${runId} is done with no failed tile`);
  await requeueFailedTiles(pool, runId);
  await setRunStatus(pool, runId, 'running', ['cancelled', 'failed', 'done']);
  for (let after = ''; ; ) {
    const ids = await pendingTiles(pool, runId, after, 1000);
    if (!ids.length) break;
    await ensureTileJobs(queue, runId, ids);
    after = ids.at(-1)!;
  }
  return (await getRun(pool, runId))!;
}

/**
 * Make the queue agree with PostGIS: every unfinished tile of an active run has a job (a Redis
 * restart without persistence, or a crash between storing a run and enqueueing it, loses
 * them), and runs whose tiles are all finished are closed. Safe to run from every worker at
 * once: job ids are deterministic, so re-adding a waiting job is a no-op.
 */
export async function reconcile(
  deps: TileWorkerDeps & { queue: Queue<PatrolJobData> },
): Promise<{ requeued: number; closed: number }> {
  let requeued = 0;
  let closed = 0;
  for (const runId of await activeRunIds(deps.pool)) {
    for (let after = ''; ; ) {
      const ids = await pendingTiles(deps.pool, runId, after, 1000);
      if (!ids.length) break;
      requeued += await ensureTileJobs(deps.queue, runId, ids);
      after = ids.at(-1)!;
    }
    if (await finishRunIfComplete(deps, runId)) closed++;
  }
  return { requeued, closed };
}
