import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import client from 'prom-client';
import { getRun, listRuns, type RunRow, tilesFinishedSince } from '../../../adapters/postgis/patrol-store.ts';
import { listZoneLayers } from '../../../adapters/postgis/zone-store.ts';
import { type PatrolJobData, patrolQueue, queueCounts } from '../../../adapters/redis/patrol-queue.ts';
import { isSkypatrolError, SkypatrolError } from '../../../core/errors.ts';
import type { Role } from '../../../domain/clues/review.ts';
import { aoiFromGeoJson } from '../../../domain/geo/aoi.ts';
import { cancelPatrol, type PatrolRequest, planPatrol, resumePatrol } from '../../../usecases/patrol.ts';
import { type AuthUser, authenticate, currentUser, requireRole } from '../plugins/auth.ts';
import { Offset } from './params.ts';

/**
 * Patrols: launch (an AOI or a county, two windows, scenarios), follow (status with ETA, a
 * Server-Sent Events stream of progress and finished tiles), cancel and resume; recurring
 * patrols as BullMQ job schedulers; the county list the launcher offers; Prometheus metrics;
 * and the BullMQ dashboard for admins.
 */
const RunId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
const Window = Type.Object({ from: Day, to: Day }, { additionalProperties: false });
const Scenario = Type.String({ pattern: '^[a-z][a-z0-9-]{0,40}$' });
const Sensor = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,40}$' });
const County = Type.String({ pattern: '^[0-9]{6}$' });

const LAUNCHERS: Role[] = ['admin', 'analyst', 'prosecutor'];

async function readerOf(req: FastifyRequest): Promise<AuthUser | null> {
  const user = await currentUser(req);
  if (!user && req.server.deps.config.requireLogin)
    throw new SkypatrolError('UNAUTHORIZED', 'sign in first (session cookie or Bearer token)');
  return user;
}

/** A prosecutor patrols only inside their counties (100 m of slack along the borders). */
async function checkScope(app: FastifyInstance, user: AuthUser, body: PatrolRequest): Promise<void> {
  if (user.role !== 'prosecutor') return;
  if (body.county !== undefined) {
    if (!user.counties.includes(body.county))
      throw new SkypatrolError('FORBIDDEN', `county ${body.county} is outside your counties`);
    return;
  }
  const aoi = aoiFromGeoJson(body.aoi);
  const { rows } = await app.deps.pool.query<{ inside: boolean | null }>(
    `SELECT ST_Covers(ST_Buffer(ST_Union(geom)::geography, 100)::geometry, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)) AS inside
       FROM zones WHERE kind = 'admin_division' AND properties->>'adcode' = ANY($1)`,
    [user.counties, JSON.stringify(aoi)],
  );
  if (!rows[0]?.inside) throw new SkypatrolError('FORBIDDEN', 'the area reaches outside your counties');
}

function canControl(user: AuthUser, run: RunRow): boolean {
  return user.role === 'admin' || user.role === 'analyst' || run.createdBy === user.username;
}

export async function patrolRoutes(app: FastifyInstance): Promise<void> {
  const { config, pool } = app.deps;
  let queue: ReturnType<typeof patrolQueue> | null = null;
  const q = () => {
    queue ??= patrolQueue(config);
    return queue;
  };
  app.addHook('onClose', async () => {
    await queue?.close();
  });
  const deps = () => ({ pool, queue: q(), detectorsDir: config.detectorsDir, maxTiles: config.maxTiles });

  app.post(
    '/patrols',
    {
      onRequest: [authenticate, requireRole(...LAUNCHERS)],
      bodyLimit: 5 * 1024 * 1024,
      schema: {
        tags: ['patrols'],
        summary: '发起巡查 Launch a patrol of an area (GeoJSON) or a county',
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: 200 })),
            aoi: Type.Optional(Type.Object({ type: Type.String() }, { additionalProperties: true })),
            county: Type.Optional(County),
            before: Window,
            after: Window,
            scenarios: Type.Optional(Type.Array(Scenario, { maxItems: 20, uniqueItems: true })),
            sensors: Type.Optional(Type.Array(Sensor, { maxItems: 10, uniqueItems: true })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const user = req.user!;
      const body = { ...(req.body as Omit<PatrolRequest, 'actor'>), actor: user.username };
      await checkScope(app, user, body);
      const run = await planPatrol(deps(), body);
      return reply.status(202).header('location', `/patrols/${run.id}`).send(run);
    },
  );

  app.get(
    '/patrols',
    {
      schema: {
        tags: ['patrols'],
        summary: '巡查列表 Patrol runs, newest first',
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.String({ enum: ['queued', 'running', 'done', 'failed', 'cancelled'] }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            offset: Offset,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      await readerOf(req);
      const qs = req.query as { status?: string; limit: number; offset: number };
      return listRuns(pool, qs);
    },
  );

  const runOr404 = async (id: string) => {
    const run = await getRun(pool, id);
    if (!run) throw new SkypatrolError('NOT_FOUND', `no patrol run ${id}`);
    return run;
  };

  app.get(
    '/patrols/:id',
    { schema: { tags: ['patrols'], summary: '巡查进度 A run with progress and ETA', params: RunId } },
    async (req) => {
      await readerOf(req);
      return runOr404((req.params as { id: string }).id);
    },
  );

  app.get(
    '/patrols/:id/tiles',
    {
      schema: {
        tags: ['patrols'],
        summary: 'Tiles of a run with status, reason of failure and stage timings',
        params: RunId,
      },
    },
    async (req) => {
      await readerOf(req);
      const { id } = req.params as { id: string };
      await runOr404(id);
      const { rows } = await pool.query(
        `SELECT tile_id AS "tileId", status, attempts, error_code AS "errorCode", error, covered_km2 AS "coveredKm2",
                detections, stages, started_at AS "startedAt", finished_at AS "finishedAt",
                ST_AsGeoJSON(bounds, 6)::json AS bounds
           FROM patrol_tiles WHERE run_id = $1 ORDER BY tile_id`,
        [id],
      );
      return rows;
    },
  );

  app.get(
    '/patrols/:id/coverage',
    {
      schema: {
        tags: ['patrols'],
        summary: '巡查覆盖 Patrolled (clear-observed) km² per county and scenario',
        params: RunId,
      },
    },
    async (req) => {
      await readerOf(req);
      const { id } = req.params as { id: string };
      const run = await runOr404(id);
      const { rows } = await pool.query(
        `SELECT c.county_adcode AS adcode, z.properties->>'name' AS name, c.scenario, c.area_km2 AS "areaKm2"
           FROM patrol_coverage c
           LEFT JOIN LATERAL (SELECT properties FROM zones
                               WHERE kind = 'admin_division' AND properties->>'adcode' = c.county_adcode LIMIT 1) z ON true
          WHERE c.run_id = $1 ORDER BY c.county_adcode, c.scenario`,
        [id],
      );
      return { runId: id, coveredKm2: run.coveredKm2, counties: rows };
    },
  );

  // Progress as Server-Sent Events: `progress` on every change, `tile` per finished tile,
  // `end` when the run is over. Polls PostGIS, so it works whichever process runs the tiles.
  app.get(
    '/patrols/:id/events',
    { schema: { tags: ['patrols'], summary: '实时进度 Progress stream (text/event-stream)', params: RunId } },
    async (req, reply: FastifyReply) => {
      await readerOf(req);
      const { id } = req.params as { id: string };
      let run = await runOr404(id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (event: string, data: unknown) =>
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let closed = false;
      req.raw.on('close', () => {
        closed = true;
      });
      let since: string | null = null;
      let last = '';
      const progress = (r: RunRow) => ({
        status: r.status,
        tilesDone: r.tilesDone,
        tilesFailed: r.tilesFailed,
        tilesTotal: r.tilesTotal,
        etaSeconds: r.etaSeconds,
        coveredKm2: r.coveredKm2,
        clueCount: r.clueCount,
      });
      try {
        while (!closed) {
          for (const { cursor, ...t } of await tilesFinishedSince(pool, id, since)) {
            send('tile', t);
            since = cursor;
          }
          const p = JSON.stringify(progress(run));
          if (p !== last) {
            send('progress', progress(run));
            last = p;
          }
          if (['done', 'failed', 'cancelled'].includes(run.status)) {
            send('end', { status: run.status });
            break;
          }
          res.write(': keep-alive\n\n');
          await new Promise((r) => setTimeout(r, 1000));
          run = (await getRun(pool, id)) ?? run;
        }
      } catch (err) {
        if (!closed) send('error', { code: 'INTERNAL', message: (err as Error).message });
      }
      res.end();
    },
  );

  for (const action of ['cancel', 'resume'] as const) {
    app.post(
      `/patrols/:id/${action}`,
      {
        onRequest: [authenticate, requireRole(...LAUNCHERS)],
        schema: {
          tags: ['patrols'],
          summary:
            action === 'cancel'
              ? '取消 Cancel a queued or running run'
              : '继续 Resume a cancelled or failed run',
          params: RunId,
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const run = await runOr404(id);
        if (!canControl(req.user!, run))
          throw new SkypatrolError('FORBIDDEN', 'only its creator, an analyst or an admin may do this');
        return action === 'cancel' ? cancelPatrol(pool, q(), id) : resumePatrol(pool, q(), id);
      },
    );
  }

  // Recurring patrols: BullMQ job schedulers that plan a run every month or quarter.
  const SCHEDULE_ID = '^[a-z0-9][a-z0-9-]{1,62}$';
  app.get(
    '/patrols/schedules',
    {
      onRequest: [authenticate, requireRole('admin', 'analyst')],
      schema: { tags: ['patrols'], summary: '定期巡查 Recurring patrols' },
    },
    async () => {
      const list = await q().getJobSchedulers(0, 499, true);
      return list.map((s) => ({
        id: s.key,
        pattern: s.pattern ?? null,
        next: s.next ? new Date(s.next).toISOString() : null,
        ...(s.template?.data ?? {}),
      }));
    },
  );
  app.put(
    '/patrols/schedules/:scheduleId',
    {
      onRequest: [authenticate, requireRole('admin', 'analyst')],
      schema: {
        tags: ['patrols'],
        summary: 'Create or replace a recurring patrol (a county or an AOI, monthly or quarterly)',
        params: Type.Object({ scheduleId: Type.String({ pattern: SCHEDULE_ID }) }),
        body: Type.Object(
          {
            county: Type.Optional(County),
            aoi: Type.Optional(Type.Object({ type: Type.String() }, { additionalProperties: true })),
            cadence: Type.String({ enum: ['monthly', 'quarterly'] }),
            scenarios: Type.Optional(Type.Array(Scenario, { maxItems: 20, uniqueItems: true })),
            sensors: Type.Optional(Type.Array(Sensor, { maxItems: 10, uniqueItems: true })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { scheduleId } = req.params as { scheduleId: string };
      const b = req.body as {
        county?: string;
        aoi?: unknown;
        cadence: 'monthly' | 'quarterly';
        scenarios?: string[];
        sensors?: string[];
      };
      if ((b.county === undefined) === (b.aoi === undefined))
        throw new SkypatrolError('VALIDATION', 'give exactly one of aoi (GeoJSON) or county (adcode)');
      const aoi = b.aoi === undefined ? undefined : aoiFromGeoJson(b.aoi);
      if (b.county) {
        const { rowCount } = await pool.query(
          "SELECT 1 FROM zones WHERE kind = 'admin_division' AND properties->>'adcode' = $1",
          [b.county],
        );
        if (!rowCount)
          throw new SkypatrolError('NOT_FOUND', `county ${b.county} is not in the admin_division layer`);
      }
      // 02:00 on the 2nd of each month (or quarter): the last period's scenes have arrived.
      const pattern = b.cadence === 'monthly' ? '0 2 2 * *' : '0 2 2 1,4,7,10 *';
      const data: PatrolJobData = {
        scheduleId,
        cadence: b.cadence,
        actor: req.user!.username,
        ...(b.county ? { county: b.county } : { aoi }),
        ...(b.scenarios ? { scenarios: b.scenarios } : {}),
        ...(b.sensors ? { sensors: b.sensors } : {}),
      };
      await q().upsertJobScheduler(scheduleId, { pattern, tz: 'Asia/Shanghai' }, { name: 'schedule', data });
      return { id: scheduleId, pattern, ...data };
    },
  );
  app.delete(
    '/patrols/schedules/:scheduleId',
    {
      onRequest: [authenticate, requireRole('admin', 'analyst')],
      schema: {
        tags: ['patrols'],
        summary: 'Remove a recurring patrol',
        params: Type.Object({ scheduleId: Type.String({ pattern: SCHEDULE_ID }) }),
      },
    },
    async (req, reply) => {
      const { scheduleId } = req.params as { scheduleId: string };
      if (!(await q().removeJobScheduler(scheduleId)))
        throw new SkypatrolError('NOT_FOUND', `no recurring patrol ${scheduleId}`);
      return reply.status(204).send();
    },
  );

  app.get(
    '/zones',
    { schema: { tags: ['zones'], summary: '区划与专题图层 Zoning layers with feature counts' } },
    async (req) => {
      await readerOf(req);
      return listZoneLayers(pool);
    },
  );
  app.get(
    '/zones/counties',
    { schema: { tags: ['zones'], summary: '旗县区 Counties the launcher offers, with area and bbox' } },
    async (req) => {
      await readerOf(req);
      const { rows } = await pool.query(
        `SELECT properties->>'adcode' AS adcode, properties->>'name' AS name, properties->>'name_en' AS "nameEn",
                ST_Area(geom::geography) / 1e6 AS "areaKm2",
                ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] AS bbox
           FROM zones
          WHERE kind = 'admin_division' AND properties ? 'adcode' AND COALESCE(properties->>'level', 'county') = 'county'
          ORDER BY properties->>'adcode'`,
      );
      return rows;
    },
  );

  // Prometheus metrics, computed at scrape time from PostGIS and the queue, so they are the
  // same whichever worker did the work.
  const registry = new client.Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new client.Gauge({ name, help, labelNames, registers: [registry] });
  const tiles = gauge('skypatrol_patrol_tiles', 'Patrol tiles by status', ['status']);
  const runs = gauge('skypatrol_patrol_runs', 'Patrol runs by status', ['status']);
  const rate = gauge('skypatrol_tiles_per_second', 'Tiles finished per second over the last 5 minutes');
  const km2 = gauge(
    'skypatrol_patrolled_km2_per_second',
    'Clear-observed km² patrolled per second, last 5 minutes',
  );
  const dur = gauge('skypatrol_tile_duration_seconds', 'Tile job duration over the last hour', ['quantile']);
  const stage = gauge('skypatrol_tile_stage_seconds', 'Mean seconds per tile by stage, last hour', ['stage']);
  const depth = gauge('skypatrol_queue_jobs', 'Jobs in the patrol queue by state', ['state']);
  const up = gauge('skypatrol_queue_up', '1 when the queue answered');
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const [t, r, recent, stages] = await Promise.all([
      pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM patrol_tiles GROUP BY status',
      ),
      pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM patrol_runs GROUP BY status',
      ),
      pool.query<{ n: number; km2: number; p50: number | null; p95: number | null }>(
        `SELECT count(*) FILTER (WHERE finished_at > now() - interval '5 minutes')::int AS n,
                COALESCE(sum(covered_km2) FILTER (WHERE finished_at > now() - interval '5 minutes'), 0) AS km2,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)) AS p95
           FROM patrol_tiles WHERE status = 'done' AND finished_at > now() - interval '1 hour'`,
      ),
      pool.query<{ key: string; ms: number }>(
        `SELECT s.key, avg(s.value::float8) AS ms FROM patrol_tiles t, jsonb_each_text(t.stages) s
          WHERE t.status = 'done' AND t.finished_at > now() - interval '1 hour' GROUP BY s.key`,
      ),
    ]);
    tiles.reset();
    for (const row of t.rows) tiles.set({ status: row.status }, row.n);
    runs.reset();
    for (const row of r.rows) runs.set({ status: row.status }, row.n);
    const rr = recent.rows[0]!;
    rate.set(rr.n / 300);
    km2.set(rr.km2 / 300);
    dur.set({ quantile: '0.5' }, rr.p50 ?? 0);
    dur.set({ quantile: '0.95' }, rr.p95 ?? 0);
    stage.reset();
    for (const row of stages.rows) stage.set({ stage: row.key }, row.ms / 1000);
    try {
      const counts = await Promise.race([
        queueCounts(q()),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000)),
      ]);
      depth.reset();
      for (const [state, n] of Object.entries(counts)) depth.set({ state }, n);
      up.set(1);
    } catch {
      up.set(0);
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  // The BullMQ dashboard, for admins only.
  await app.register(async (admin) => {
    // bull-board installs its own error handler, so refusals are answered here, not thrown.
    const adminOnly = requireRole('admin');
    admin.addHook('onRequest', async (req, reply) => {
      try {
        await authenticate(req);
        await adminOnly(req);
      } catch (err) {
        if (!isSkypatrolError(err)) throw err;
        return reply.status(err.status).send({ code: err.code, message: err.message });
      }
    });
    const serverAdapter = new FastifyAdapter();
    // @bull-board/fastify and @bull-board/api each carry their own copy of the adapter interface.
    createBullBoard({
      queues: [new BullMQAdapter(q())],
      serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    });
    serverAdapter.setBasePath('/admin/queues');
    await admin.register(serverAdapter.registerPlugin(), { prefix: '/admin/queues' });
  });
}
