import type pg from 'pg';
import type { ClueFeature } from '../../usecases/detect-pair.ts';

/**
 * Detections of a tile job, merged into clues (incidents), inside the tile's transaction.
 *
 * - Every polygon becomes a row of `detections` (its run, tile, scenario).
 * - A detection touching an open clue of its scenario (within ~10 cm: the shared border of two
 *   analysis tiles) joins that clue; the clue's geometry becomes the union of this run's
 *   detections of it, so a site cut by a tile border is one clue and a site seen again in a
 *   later run keeps its clue (the area before this run is kept for growth).
 * - A detection bridging two clues that this same run created merges them: the higher id
 *   points to the lower one (`merged_into`), is dismissed as a duplicate, and both get an event.
 * - Clue writes of one scenario are serialised with a transaction-scoped advisory lock, so two
 *   workers finishing neighbouring tiles at once cannot both create a clue for one site.
 */
export const TOUCH_TOLERANCE_DEG = 1e-6;

export interface TileDetections {
  runId: string;
  tileId: string;
  actor: string;
  features: ClueFeature[];
  /** Chain of custody and provenance stored with new clues. */
  inputs: Record<string, unknown>;
}

export interface MergeResult {
  detections: number;
  created: number[];
  joined: number[];
  merged: number[];
  /** How the rules were applied: set-wise in a few statements, or detection by detection. */
  path: 'batch' | 'sequential';
}

/**
 * Write a tile's detections and merge them into clues. Usually in three statements after the
 * scenario locks, whatever the count (`planBatch`, `writeBatch`, `unionRunDetections`): where
 * no detection touches two clues, the rules above reduce to set operations decided from one
 * query. Otherwise detection by detection (`writeSequential`), as the rules read. Both leave
 * the same rows (tests/integration/incident-batch.test.ts); `sequential` forces the latter.
 */
export async function writeTileDetections(
  client: pg.PoolClient,
  t: TileDetections,
  options: { sequential?: boolean } = {},
): Promise<MergeResult> {
  const scenarios = [...new Set(t.features.map((f) => f.properties.scenario))].sort();
  for (const s of scenarios)
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('skypatrol:clues:' || $1))`, [s]);
  if (!t.features.length) return { detections: 0, created: [], joined: [], merged: [], path: 'batch' };
  const plan = options.sequential ? null : await planBatch(client, t);
  return plan ? writeBatch(client, t, plan) : writeSequential(client, t);
}

type Props = ClueFeature['properties'] & { priority?: number; zones?: unknown[] };

/**
 * A detection's geometry as stored: GeoJSON → valid MultiPolygon (SQL over a column `gj`). Both
 * paths use this one expression, so they store and compare the same geometries.
 */
const DETECTION_GEOM =
  'ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326)), 3))';

/**
 * What each detection does under the rules, decided up front: `target` an existing clue it
 * joins, or `slot` the new clue (numbered in creation order) it creates or joins. Null when
 * some detection touches two clues (old or new): merging is left to the sequential path.
 *
 * Detection by detection, a new clue's geometry is its first detection's until the union at
 * the end, and open clues change only by merging; so, without merges, a detection touches
 * the open clues it touched before the tile (one query), and the new clues whose first
 * detection it touches (the same query, among the tile's own detections).
 */
interface BatchPlan {
  target: (number | null)[];
  slot: (number | null)[];
  /** Per slot: the detections in it, the first one creating it. */
  slots: number[][];
}

async function planBatch(client: pg.PoolClient, t: TileDetections): Promise<BatchPlan | null> {
  const { rows } = await client.query<{ near: string[]; earlier: number[] }>(
    `WITH input AS (
       SELECT ord::int AS ord, scenario, ${DETECTION_GEOM} AS g
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(scenario, gj, ord))
     SELECT ARRAY(SELECT c.id FROM clues c
                   WHERE c.scenario = i.scenario AND c.merged_into IS NULL AND c.status <> 'closed'
                     AND ST_DWithin(c.geom, i.g, $3) ORDER BY c.id) AS near,
            ARRAY(SELECT j.ord - 1 FROM input j
                   WHERE j.ord < i.ord AND j.scenario = i.scenario AND j.g && ST_Expand(i.g, $3)
                     AND ST_DWithin(j.g, i.g, $3) ORDER BY j.ord) AS earlier
       FROM input i ORDER BY i.ord`,
    [
      t.features.map((f) => f.properties.scenario),
      t.features.map((f) => JSON.stringify(f.geometry)),
      TOUCH_TOLERANCE_DEG,
    ],
  );
  const n = t.features.length;
  const plan: BatchPlan = { target: new Array(n).fill(null), slot: new Array(n).fill(null), slots: [] };
  const created = new Map<number, number>(); // creating detection → its slot
  for (let k = 0; k < n; k++) {
    const { near, earlier } = rows[k]!;
    const nearNew = earlier.filter((j) => created.has(j)).map((j) => created.get(j)!);
    if (near.length + nearNew.length > 1) return null;
    if (near.length === 1) plan.target[k] = Number(near[0]);
    else if (nearNew.length === 1) {
      plan.slot[k] = nearNew[0]!;
      plan.slots[nearNew[0]!]!.push(k);
    } else {
      created.set(k, plan.slots.length);
      plan.slot[k] = plan.slots.length;
      plan.slots.push([k]);
    }
  }
  return plan;
}

const maxDate = (a: string, b: string) => (b > a ? b : a);

async function writeBatch(client: pg.PoolClient, t: TileDetections, plan: BatchPlan): Promise<MergeResult> {
  const props = t.features.map((f) => f.properties as Props);
  // A new clue as its first detection creates it, then as each later one joins it: the latest
  // sighting, the latest after-scene, the strongest confidence and priority.
  const slots = plan.slots.map((members) => {
    const first = props[members[0]!]!;
    const last = props[members.at(-1)!]!;
    return {
      creator: members[0]! + 1,
      first,
      lastSeen: members.reduce((d, k) => maxDate(d, props[k]!.last_seen), first.last_seen),
      afterScene: last.after_scene,
      confidence: Math.max(...members.map((k) => props[k]!.confidence)),
      priority: Math.max(...members.map((k) => props[k]!.priority ?? 0)),
    };
  });
  // Existing clues joined: the same, folded over their joining detections in order.
  const joined = new Map<
    number,
    { lastSeen: string; afterScene: string; confidence: number; priority: number }
  >();
  plan.target.forEach((id, k) => {
    if (id === null) return;
    const p = props[k]!;
    const j = joined.get(id);
    joined.set(id, {
      lastSeen: j ? maxDate(j.lastSeen, p.last_seen) : p.last_seen,
      afterScene: p.after_scene,
      confidence: Math.max(j?.confidence ?? 0, p.confidence),
      priority: Math.max(j?.priority ?? 0, p.priority ?? 0),
    });
  });
  const j = [...joined.entries()];
  const { rows } = await client.query<{ id: string }>(
    `WITH input AS (
       SELECT ord::int AS ord, scenario, confidence, props, target, slot, ${DETECTION_GEOM} AS g
         FROM unnest($3::text[], $4::text[], $5::float8[], $6::jsonb[], $7::bigint[], $8::int[])
              WITH ORDINALITY AS t(scenario, gj, confidence, props, target, slot, ord)),
     dids AS (
       SELECT ord, nextval(pg_get_serial_sequence('detections', 'id')) AS id
         FROM (SELECT ord FROM input ORDER BY ord OFFSET 0) o),
     slots AS (
       SELECT (slot - 1)::int AS slot, creator, priority, first_seen, last_seen, detector, model_version,
              model_sha256, before_scene, after_scene, inputs, confidence, event
         FROM unnest($9::int[], $10::smallint[], $11::date[], $12::date[], $13::text[], $14::text[], $15::text[],
                     $16::text[], $17::text[], $18::jsonb[], $19::float8[], $20::jsonb[])
              WITH ORDINALITY AS s(creator, priority, first_seen, last_seen, detector, model_version, model_sha256,
                                   before_scene, after_scene, inputs, confidence, event, slot)),
     cids AS (
       SELECT slot, nextval(pg_get_serial_sequence('clues', 'id')) AS id
         FROM (SELECT slot FROM slots ORDER BY slot OFFSET 0) o),
     newc AS (
       INSERT INTO clues (id, scenario, confidence, priority, geom, area_m2, peak_area_m2, first_seen, last_seen,
                          detector, model_version, model_sha256, run_id, last_run_id, before_scene, after_scene, inputs)
       OVERRIDING SYSTEM VALUE
       SELECT c.id, i.scenario, s.confidence, s.priority, i.g, ST_Area(i.g::geography), ST_Area(i.g::geography),
              s.first_seen, s.last_seen, s.detector, s.model_version, s.model_sha256, $1, $1, s.before_scene,
              s.after_scene, s.inputs
         FROM cids c JOIN slots s USING (slot) JOIN input i ON i.ord = s.creator
        ORDER BY c.id),
     ev AS (
       INSERT INTO clue_events (clue_id, actor, kind, to_status, data)
       SELECT c.id, $21, 'created', 'new', s.event FROM cids c JOIN slots s USING (slot) ORDER BY c.id),
     det AS (
       INSERT INTO detections (id, run_id, tile_id, scenario, confidence, geom, area_m2, properties, clue_id)
       OVERRIDING SYSTEM VALUE
       SELECT d.id, $1, $2, i.scenario, i.confidence, i.g, ST_Area(i.g::geography), i.props, COALESCE(i.target, c.id)
         FROM input i JOIN dids d USING (ord) LEFT JOIN cids c ON c.slot = i.slot
        ORDER BY d.id),
     upd AS (
       UPDATE clues c
          SET previous_area_m2 = CASE WHEN c.last_run_id IS DISTINCT FROM $1 THEN c.area_m2 ELSE c.previous_area_m2 END,
              runs_seen = c.runs_seen + CASE WHEN c.last_run_id IS DISTINCT FROM $1 THEN 1 ELSE 0 END,
              last_run_id = $1,
              last_seen = GREATEST(c.last_seen, u.last_seen), after_scene = u.after_scene,
              confidence = GREATEST(c.confidence, u.confidence::real), priority = GREATEST(c.priority, u.priority)
         FROM unnest($22::bigint[], $23::date[], $24::text[], $25::float8[], $26::smallint[])
              AS u(id, last_seen, after_scene, confidence, priority)
        WHERE c.id = u.id)
     SELECT id FROM cids ORDER BY slot`,
    [
      t.runId,
      t.tileId,
      props.map((p) => p.scenario),
      t.features.map((f) => JSON.stringify(f.geometry)),
      props.map((p) => p.confidence),
      props.map((p) => JSON.stringify(p)),
      plan.target,
      plan.slot,
      slots.map((s) => s.creator),
      slots.map((s) => s.priority),
      slots.map((s) => s.first.last_seen),
      slots.map((s) => s.lastSeen),
      slots.map((s) => s.first.detector),
      slots.map((s) => s.first.model_version),
      slots.map((s) => s.first.model_sha256),
      slots.map((s) => s.first.before_scene),
      slots.map((s) => s.afterScene),
      slots.map((s) => JSON.stringify({ ...t.inputs, tile: t.tileId, zones: s.first.zones ?? [] })),
      slots.map((s) => s.confidence),
      slots.map((s) =>
        JSON.stringify({
          confidence: s.first.confidence,
          detector: s.first.detector,
          model_version: s.first.model_version,
          run_id: t.runId,
          tile: t.tileId,
        }),
      ),
      t.actor,
      j.map(([id]) => id),
      j.map(([, v]) => v.lastSeen),
      j.map(([, v]) => v.afterScene),
      j.map(([, v]) => v.confidence),
      j.map(([, v]) => v.priority),
    ],
  );
  const created = rows.map((r) => Number(r.id));
  await unionRunDetections(client, t.runId, [...new Set([...created, ...joined.keys()])]);
  return {
    detections: t.features.length,
    created,
    joined: t.features.flatMap((_, k) => {
      const target = plan.target[k];
      if (target !== null && target !== undefined) return [target];
      const slot = plan.slot[k]!;
      return plan.slots[slot]![0] === k ? [] : [created[slot]!];
    }),
    merged: [],
    path: 'batch',
  };
}

/** A clue's extent is what this run sees of it: the union of its detections in the run. */
async function unionRunDetections(client: pg.PoolClient, runId: string, ids: number[]): Promise<void> {
  if (!ids.length) return;
  await client.query(
    `UPDATE clues c SET geom = u.g, area_m2 = ST_Area(u.g::geography),
            peak_area_m2 = GREATEST(COALESCE(c.peak_area_m2, 0), ST_Area(u.g::geography)), updated_at = now()
       FROM (SELECT clue_id, ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(geom ORDER BY id)), 3)) AS g
               FROM detections WHERE clue_id = ANY($1) AND run_id = $2 GROUP BY clue_id) u
      WHERE c.id = u.clue_id AND u.g IS NOT NULL AND NOT ST_IsEmpty(u.g)`,
    [ids, runId],
  );
}

/** The rules detection by detection (any tile; needed where a detection touches two clues). */
async function writeSequential(client: pg.PoolClient, t: TileDetections): Promise<MergeResult> {
  const result: MergeResult = { detections: 0, created: [], joined: [], merged: [], path: 'sequential' };
  const touched = new Set<number>();
  for (const f of t.features) {
    const p = f.properties as Props;
    // The detection and the open clues of its scenario it touches, in one round trip.
    const found = await client.query<{
      det_id: number;
      id: number | null;
      run_id: string | null;
      runs_seen: number;
    }>(
      `WITH d AS (
         INSERT INTO detections (run_id, tile_id, scenario, confidence, geom, area_m2, properties)
         SELECT $1, $2, $3, $4, g, ST_Area(g::geography), $6
           FROM (SELECT ${DETECTION_GEOM} AS g FROM (SELECT $5::text AS gj) j) s
         RETURNING id, geom)
       SELECT d.id AS det_id, c.id, c.run_id, c.runs_seen
         FROM d LEFT JOIN clues c
           ON c.scenario = $3 AND c.merged_into IS NULL AND c.status <> 'closed'
          AND ST_DWithin(c.geom, d.geom, $7)
        ORDER BY c.id`,
      [
        t.runId,
        t.tileId,
        p.scenario,
        p.confidence,
        JSON.stringify(f.geometry),
        JSON.stringify(p),
        TOUCH_TOLERANCE_DEG,
      ],
    );
    const detId = found.rows[0]!.det_id;
    result.detections++;
    // The open clues it touches (none: the one row of the LEFT JOIN has no clue).
    const near = found.rows.filter((r): r is typeof r & { id: number } => r.id !== null);
    let target: number;
    if (!near.length) {
      // The clue and its "created" event in one statement.
      const ins = await client.query<{ id: number }>(
        `WITH c AS (
           INSERT INTO clues (scenario, confidence, priority, geom, area_m2, peak_area_m2, first_seen, last_seen,
                              detector, model_version, model_sha256, run_id, last_run_id, before_scene, after_scene, inputs)
           SELECT $2, d.confidence, $3, d.geom, d.area_m2, d.area_m2, $4, $4, $5, $6, $7, $8, $8, $9, $10, $11
             FROM detections d WHERE d.id = $1
           RETURNING id),
         e AS (
           INSERT INTO clue_events (clue_id, actor, kind, to_status, data)
           SELECT id, $12, 'created', 'new', $13 FROM c)
         SELECT id FROM c`,
        [
          detId,
          p.scenario,
          p.priority ?? 0,
          p.last_seen,
          p.detector,
          p.model_version,
          p.model_sha256,
          t.runId,
          p.before_scene,
          p.after_scene,
          JSON.stringify({ ...t.inputs, tile: t.tileId, zones: p.zones ?? [] }),
          t.actor,
          JSON.stringify({
            confidence: p.confidence,
            detector: p.detector,
            model_version: p.model_version,
            run_id: t.runId,
            tile: t.tileId,
          }),
        ],
      );
      target = ins.rows[0]!.id;
      result.created.push(target);
    } else {
      target = near[0]!.id;
      result.joined.push(target);
      for (const other of near.slice(1)) {
        // Only clues this run created (one site cut by tile borders) are merged automatically;
        // clues from earlier runs are a prosecutor's to merge.
        if (other.run_id !== t.runId || other.runs_seen !== 1) continue;
        await client.query('UPDATE detections SET clue_id = $1 WHERE clue_id = $2', [target, other.id]);
        await client.query(
          `UPDATE clues SET merged_into = $1, status = 'dismissed', dismiss_reason = 'duplicate', updated_at = now()
            WHERE id = $2`,
          [target, other.id],
        );
        await client.query(
          `INSERT INTO clue_events (clue_id, actor, kind, from_status, to_status, reason, data)
           VALUES ($1, $3, 'merged', 'new', 'dismissed', 'duplicate', jsonb_build_object('into', $2::bigint)),
                  ($2, $3, 'merged', NULL, NULL, NULL, jsonb_build_object('from', $1::bigint))`,
          [other.id, target, t.actor],
        );
        touched.delete(other.id);
        result.merged.push(other.id);
      }
    }
    await client.query('UPDATE detections SET clue_id = $1 WHERE id = $2', [target, detId]);
    touched.add(target);
    // A clue this detection created already says all of this.
    if (!near.length) continue;
    // Joined: a clue from an earlier run seen for the first time in this one remembers its area
    // before; then the latest sighting, the strongest confidence and priority.
    await client.query(
      `UPDATE clues SET previous_area_m2 = CASE WHEN last_run_id IS DISTINCT FROM $2 THEN area_m2 ELSE previous_area_m2 END,
                        runs_seen = runs_seen + CASE WHEN last_run_id IS DISTINCT FROM $2 THEN 1 ELSE 0 END,
                        last_run_id = $2,
                        last_seen = GREATEST(last_seen, $3::date), after_scene = $4,
                        confidence = GREATEST(confidence, $5), priority = GREATEST(priority, $6)
        WHERE id = $1`,
      [target, t.runId, p.last_seen, p.after_scene, p.confidence, p.priority ?? 0],
    );
  }
  await unionRunDetections(client, t.runId, [...touched]);
  return result;
}

export interface FinalizeResult {
  status: 'done' | 'failed';
  coveredKm2: number;
  seenAgain: number;
  reopened: number[];
  rechecked: { id: number; result: 'still_damaged' | 'restored' }[];
}

/**
 * Close a run whose tiles are all finished, once: status, covered km² (per run, and per
 * scenario and county), `seen_again` events with growth for clues of earlier runs, dismissed
 * clues raised again when they grew materially, and satellite re-checks of clues under
 * remediation. Null when the run is not finished or was already closed. Run it in a
 * transaction: a crash half-way leaves the run open for the next attempt.
 */
export async function finalizeRun(
  client: pg.PoolClient,
  runId: string,
  rules: {
    actor: string;
    minAreaM2: Record<string, number>;
    grewMaterially: (previousM2: number, nowM2: number, mmu: number) => boolean;
    recheck: (seen: boolean, observedFraction: number) => 'still_damaged' | 'restored' | null;
  },
): Promise<FinalizeResult | null> {
  const run = await client.query<{ scenarios: string[]; after_to: string; done: number }>(
    `UPDATE patrol_runs SET status = CASE WHEN tiles_done = 0 AND tiles_total > 0 THEN 'failed' ELSE 'done' END,
            finished_at = now(),
            covered_km2 = (SELECT COALESCE(sum(covered_km2), 0) FROM patrol_tiles WHERE run_id = $1::uuid AND status = 'done')
      WHERE id = $1::uuid AND status = 'running' AND tiles_done + tiles_failed >= tiles_total
      RETURNING scenarios, after_to, tiles_done AS done`,
    [runId],
  );
  const r = run.rows[0];
  if (!r) return null;
  const status = r.done === 0 ? 'failed' : 'done';
  const cov = await client.query<{ km2: number }>(
    'SELECT covered_km2 AS km2 FROM patrol_runs WHERE id = $1::uuid',
    [runId],
  );
  await client.query(
    `INSERT INTO patrol_coverage (run_id, scenario, county_adcode, area_km2)
     SELECT $1::uuid, s.scenario, z.adcode, sum(ST_Area(ST_Intersection(t.coverage, z.geom)::geography)) / 1e6
       FROM patrol_tiles t
       JOIN (SELECT properties->>'adcode' AS adcode, geom FROM zones
              WHERE kind = 'admin_division' AND properties ? 'adcode'
                AND COALESCE(properties->>'level', 'county') = 'county') z ON ST_Intersects(t.coverage, z.geom)
      CROSS JOIN unnest($2::text[]) AS s(scenario)
      WHERE t.run_id = $1::uuid AND t.status = 'done' AND t.coverage IS NOT NULL
      GROUP BY 1, 2, 3
     ON CONFLICT DO NOTHING`,
    [runId, r.scenarios],
  );

  // Sites of earlier runs seen again: growth against their area before this run.
  const again = await client.query<{
    id: number;
    scenario: string;
    status: string;
    previous: number;
    area: number;
  }>(
    `SELECT id, scenario, status, COALESCE(previous_area_m2, 0) AS previous, area_m2 AS area FROM clues
      WHERE last_run_id = $1::uuid AND run_id IS DISTINCT FROM $1::uuid AND merged_into IS NULL ORDER BY id`,
    [runId],
  );
  const reopened: number[] = [];
  const rechecked: FinalizeResult['rechecked'] = [];
  for (const c of again.rows) {
    await client.query(
      `INSERT INTO clue_events (clue_id, actor, kind, data) VALUES ($1, $2, 'seen_again', $3)`,
      [
        c.id,
        rules.actor,
        JSON.stringify({
          run_id: runId,
          previous_area_m2: Math.round(c.previous * 10) / 10,
          area_m2: Math.round(c.area * 10) / 10,
          growth_m2: Math.round((c.area - c.previous) * 10) / 10,
        }),
      ],
    );
    if (
      c.status === 'dismissed' &&
      rules.grewMaterially(c.previous, c.area, rules.minAreaM2[c.scenario] ?? 0)
    ) {
      await client.query(
        `UPDATE clues SET status = 'in_review', dismiss_reason = NULL, updated_at = now() WHERE id = $1`,
        [c.id],
      );
      await client.query(
        `INSERT INTO clue_events (clue_id, actor, kind, from_status, to_status, reason, data)
         VALUES ($1, $2, 'transition', 'dismissed', 'in_review', 'grew_materially', $3)`,
        [c.id, rules.actor, JSON.stringify({ run_id: runId, previous_area_m2: c.previous, area_m2: c.area })],
      );
      reopened.push(c.id);
    }
  }
  // Clues under remediation: still damaged when seen again; restored when observed clear and not seen.
  const remediation = await client.query<{ id: number; seen: boolean; frac: number | null }>(
    `SELECT c.id, c.last_run_id IS NOT DISTINCT FROM $1::uuid AS seen,
            (SELECT ST_Area(ST_Intersection(c.geom, ST_Union(t.coverage))::geography) / NULLIF(c.area_m2, 0)
               FROM patrol_tiles t
              WHERE t.run_id = $1::uuid AND t.status = 'done' AND t.coverage && c.geom) AS frac
       FROM clues c
      WHERE c.status = 'remediation_check' AND c.merged_into IS NULL AND c.scenario = ANY($2)
        AND EXISTS (SELECT 1 FROM patrol_runs p WHERE p.id = $1::uuid AND ST_Intersects(p.aoi, c.geom))
      ORDER BY c.id`,
    [runId, r.scenarios],
  );
  for (const c of remediation.rows) {
    const result = rules.recheck(c.seen, c.frac ?? 0);
    if (!result) continue;
    await client.query('UPDATE clues SET recheck = $2, recheck_at = $3, updated_at = now() WHERE id = $1', [
      c.id,
      result,
      r.after_to,
    ]);
    await client.query(
      `INSERT INTO clue_events (clue_id, actor, kind, data) VALUES ($1, $2, 'recheck', $3)`,
      [c.id, rules.actor, JSON.stringify({ run_id: runId, result, observed_fraction: c.frac ?? 0 })],
    );
    rechecked.push({ id: c.id, result });
  }
  return { status, coveredKm2: cov.rows[0]!.km2, seenAgain: again.rows.length, reopened, rechecked };
}
