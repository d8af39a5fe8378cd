import type pg from 'pg';
import { readManifest } from '../adapters/files/detector-registry.ts';
import { listClueEvents } from '../adapters/postgis/clue-store.ts';
import { SkypatrolError } from '../core/errors.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import type { PacketCustody } from '../domain/packets/manifest.ts';
import { custodyFor } from './custody.ts';
import type { PacketScene } from './packet-images.ts';

/**
 * Everything an inspection packet prints about one clue, read from PostGIS (the reference
 * for areas and geometry), the scene catalog and the detector folder.
 */
export interface PacketClue {
  id: number;
  scenario: string;
  status: string;
  dismissReason: string | null;
  confidence: number;
  priority: number;
  areaM2: number;
  areaHa: number;
  areaMu: number;
  /** ST_Area(geom::geography) recomputed now (the stored area_m2 is the same formula). */
  areaGeographyM2: number;
  firstSeen: string;
  lastSeen: string;
  countyAdcode: string | null;
  detector: string;
  modelVersion: string;
  modelSha256: string | null;
  runId: string | null;
  beforeScene: string | null;
  afterScene: string | null;
  inputs: Record<string, unknown>;
  createdAt: Date;
  /** GeoJSON MultiPolygon coordinates (EPSG:4326). */
  coords: number[][][][];
  centroid: [number, number];
  centroidInside: boolean;
  pointOnSurface: [number, number];
  /** Other scenarios whose detectors found the same site (folded into this clue). */
  alsoScenarios: string[];
}

export interface PacketDivision {
  name: string;
  adcode: string | null;
}

export interface PacketZone {
  kind: string;
  properties: Record<string, unknown>;
  overlapM2: number;
}

export interface PacketEvent {
  at: Date;
  actor: string;
  kind: string;
  fromStatus: string | null;
  toStatus: string | null;
  reason: string | null;
  comment: string | null;
}

export interface PacketData {
  clue: PacketClue;
  county: PacketDivision | null;
  township: PacketDivision | null;
  /** Simplified outline of the county (for the locator map), MultiPolygon coordinates. */
  countyOutline: number[][][][] | null;
  zones: PacketZone[];
  events: PacketEvent[];
  detector: { manifest: DetectorManifest | null; problem: string | null };
  before: PacketScene[];
  after: PacketScene[];
  custody: PacketCustody;
}

function parseCoords(geojson: string): number[][][][] {
  const g = JSON.parse(geojson) as { type: string; coordinates: unknown };
  if (g.type === 'Polygon') return [g.coordinates as number[][][]];
  return g.coordinates as number[][][][];
}

function day(v: unknown): string {
  if (v instanceof Date) {
    const y = v.getFullYear();
    const m = String(v.getMonth() + 1).padStart(2, '0');
    const d = String(v.getDate()).padStart(2, '0');
    return `${y}-${m}-${d}`;
  }
  return String(v).slice(0, 10);
}

export async function loadClue(pool: pg.Pool, id: number): Promise<PacketClue> {
  const { rows } = await pool.query(
    `SELECT c.id, c.scenario, c.status, c.dismiss_reason, c.confidence, c.priority, c.area_m2, c.area_ha, c.area_mu,
            ST_Area(c.geom::geography) AS area_geog, c.first_seen, c.last_seen, c.county_adcode, c.detector,
            c.model_version, c.model_sha256, c.run_id, c.before_scene, c.after_scene, c.inputs, c.created_at,
            ST_AsGeoJSON(c.geom, 8) AS geojson,
            ST_X(cen) AS cx, ST_Y(cen) AS cy, ST_Intersects(c.geom, cen) AS inside,
            ST_X(pos) AS px, ST_Y(pos) AS py, c.also_scenarios
       FROM clues c,
            LATERAL (SELECT ST_Centroid(c.geom::geography)::geometry AS cen, ST_PointOnSurface(c.geom) AS pos) p
      WHERE c.id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) throw new SkypatrolError('NOT_FOUND', `clue ${id} does not exist`);
  return {
    id: Number(r.id),
    scenario: r.scenario,
    status: r.status,
    dismissReason: r.dismiss_reason,
    confidence: r.confidence,
    priority: r.priority,
    areaM2: r.area_m2,
    areaHa: r.area_ha,
    areaMu: r.area_mu,
    areaGeographyM2: r.area_geog,
    firstSeen: day(r.first_seen),
    lastSeen: day(r.last_seen),
    countyAdcode: r.county_adcode,
    detector: r.detector,
    modelVersion: r.model_version,
    modelSha256: r.model_sha256,
    runId: r.run_id,
    beforeScene: r.before_scene,
    afterScene: r.after_scene,
    inputs: r.inputs ?? {},
    createdAt: r.created_at,
    coords: parseCoords(r.geojson),
    centroid: [r.cx, r.cy],
    centroidInside: r.inside,
    pointOnSurface: [r.px, r.py],
    alsoScenarios: r.also_scenarios ?? [],
  };
}

/** Scene ids a clue names: its before/after scenes and the composite inputs. */
export function clueSceneIds(c: PacketClue): { before: string[]; after: string[] } {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const before = [...new Set([...(c.beforeScene ? [c.beforeScene] : []), ...list(c.inputs.before)])];
  const after = [...new Set([...(c.afterScene ? [c.afterScene] : []), ...list(c.inputs.after)])];
  return { before, after };
}

type CustodyScenes = PacketCustody['scenes'];

function isAssetHash(v: unknown): v is { href: string; sha256: string } {
  const o = v as { href?: unknown; sha256?: unknown };
  return typeof o?.href === 'string' && typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256);
}

/**
 * The custody record made when the clue was detected, if any: `inputs.custody` (patrols), or
 * the per-band hashes `detect --store` records for its two scene folders.
 */
export function recordedCustody(
  c: PacketClue,
  hrefs: Map<string, Record<string, string>>,
): CustodyScenes | null {
  const custody = c.inputs.custody as Record<string, Record<string, unknown>> | undefined;
  if (custody && typeof custody === 'object') {
    const out: CustodyScenes = {};
    for (const [scene, assets] of Object.entries(custody)) {
      if (!assets || typeof assets !== 'object') continue;
      out[scene] = {};
      for (const [k, a] of Object.entries(assets)) if (isAssetHash(a)) out[scene]![k] = a;
    }
    return out;
  }
  const bandHashes = (v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((s) => typeof s === 'string')
      ? (v as Record<string, string>)
      : null;
  const b = bandHashes(c.inputs.before);
  const a = bandHashes(c.inputs.after);
  if ((b && c.beforeScene) || (a && c.afterScene)) {
    const out: CustodyScenes = {};
    for (const [scene, hashes] of [
      [c.beforeScene, b],
      [c.afterScene, a],
    ] as const) {
      if (!scene || !hashes) continue;
      out[scene] = Object.fromEntries(
        Object.entries(hashes).map(([band, sha]) => [
          band,
          { href: hrefs.get(scene)?.[band] ?? '', sha256: sha },
        ]),
      );
    }
    return out;
  }
  return null;
}

async function loadScenes(pool: pg.Pool, ids: string[]): Promise<PacketScene[]> {
  if (!ids.length) return [];
  const { rows } = await pool.query<PacketScene>(
    `SELECT id, sensor, platform, datetime, cloud_cover, assets, mask FROM scenes
      WHERE id = ANY($1::text[]) AND status = 'ready' AND sensor IS NOT NULL`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((s): s is PacketScene => !!s);
}

async function custodyOf(pool: pg.Pool, c: PacketClue, ids: string[]): Promise<PacketCustody> {
  const model = { detector: c.detector, version: c.modelVersion, sha256: c.modelSha256 };
  const hrefRows = await pool.query<{ id: string; assets: Record<string, { href?: string }> }>(
    'SELECT id, assets FROM scenes WHERE id = ANY($1::text[])',
    [ids],
  );
  const hrefs = new Map(
    hrefRows.rows.map((r) => [
      r.id,
      Object.fromEntries(Object.entries(r.assets ?? {}).map(([k, a]) => [k, a?.href ?? ''])),
    ]),
  );
  const recorded = recordedCustody(c, hrefs);
  if (recorded)
    return {
      recorded: 'at_detection',
      scenes: recorded,
      unavailable: ids
        .filter((id) => !recorded[id])
        .map((sceneId) => ({ sceneId, reason: 'not in the detection record' })),
      model,
    };
  const unavailable: PacketCustody['unavailable'] = [];
  const scenes: CustodyScenes = {};
  // One scene at a time, so one unreadable asset does not hide the others' hashes.
  for (const id of ids) {
    try {
      const r = await custodyFor(pool, [id]);
      if (r[id]) scenes[id] = r[id]!;
      else unavailable.push({ sceneId: id, reason: 'not in the scene catalog' });
    } catch (err) {
      unavailable.push({ sceneId: id, reason: (err as Error).message });
    }
  }
  return { recorded: 'at_packet_time', scenes, unavailable, model };
}

/** Read everything a packet needs about clue `id` (NOT_FOUND when it does not exist). */
export async function loadPacketData(pool: pg.Pool, id: number, detectorsDir: string): Promise<PacketData> {
  const clue = await loadClue(pool, id);
  const centroid = JSON.stringify({ type: 'Point', coordinates: clue.centroid });
  const divisions = await pool.query<{
    properties: Record<string, unknown>;
    level: string;
    outline: string | null;
  }>(
    `SELECT properties, COALESCE(properties->>'level', '') AS level,
            CASE WHEN properties->>'adcode' = $2 OR ($2::text IS NULL AND COALESCE(properties->>'level', 'county') = 'county')
                 THEN ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.002), 5) END AS outline
       FROM zones
      WHERE kind = 'admin_division'
        AND (properties->>'adcode' = $2 OR ST_Contains(geom, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)))
      ORDER BY ST_Area(geom)`,
    [centroid, clue.countyAdcode],
  );
  const rows = divisions.rows;
  const countyRow =
    rows.find((r) => clue.countyAdcode && r.properties.adcode === clue.countyAdcode) ??
    rows.find((r) => r.level === 'county' || r.level === '') ??
    null;
  const townRow = rows.find((r) => r.level === 'township') ?? null;
  const division = (r: (typeof rows)[number] | null): PacketDivision | null =>
    r ? { name: String(r.properties.name ?? ''), adcode: (r.properties.adcode as string) ?? null } : null;
  const zones = await pool.query<{ kind: string; properties: Record<string, unknown>; overlap: number }>(
    `SELECT z.kind, z.properties, ST_Area(ST_Intersection(z.geom, c.geom)::geography) AS overlap
       FROM zones z JOIN clues c ON c.id = $1
      WHERE z.kind <> 'admin_division' AND ST_Intersects(z.geom, c.geom)
      ORDER BY z.kind, overlap DESC, z.id`,
    [id],
  );
  const events = (await listClueEvents(pool, id)) as {
    at: Date;
    actor: string;
    kind: string;
    from_status: string | null;
    to_status: string | null;
    reason: string | null;
    comment: string | null;
  }[];
  let manifest: DetectorManifest | null = null;
  let problem: string | null = null;
  try {
    manifest = (await readManifest(detectorsDir, clue.detector)).manifest;
  } catch (err) {
    problem = (err as Error).message;
  }
  const ids = clueSceneIds(clue);
  const [before, after] = await Promise.all([loadScenes(pool, ids.before), loadScenes(pool, ids.after)]);
  const custody = await custodyOf(pool, clue, [...new Set([...ids.before, ...ids.after])]);
  const outline = countyRow?.outline ? parseCoords(countyRow.outline) : null;
  return {
    clue,
    county: division(countyRow),
    township: division(townRow),
    countyOutline: outline,
    zones: zones.rows.map((z) => ({ kind: z.kind, properties: z.properties, overlapM2: z.overlap })),
    events: events.map((e) => ({
      at: e.at,
      actor: e.actor,
      kind: e.kind,
      fromStatus: e.from_status,
      toStatus: e.to_status,
      reason: e.reason,
      comment: e.comment,
    })),
    detector: { manifest, problem },
    before,
    after,
    custody,
  };
}
