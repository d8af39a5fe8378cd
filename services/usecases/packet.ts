import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { unzipSync, Zip, ZipDeflate, ZipPassThrough, zipSync } from 'fflate';
import type pg from 'pg';
import { toGpx } from '../adapters/files/gpx.ts';
import { clueNavigationKml } from '../adapters/files/kml.ts';
import { renderPacketPdf } from '../adapters/pdf/packet-pdf.ts';
import { SkypatrolError } from '../core/errors.ts';
import { type Actor, isCountyScoped } from '../domain/clues/review.ts';
import { formatLatLon, formatLatLonDms } from '../domain/packets/coordinates.ts';
import {
  clueNumber,
  type PacketFacts,
  type PictureFacts,
  packetDocument,
} from '../domain/packets/document.ts';
import {
  fileEntry,
  MANIFEST,
  MANIFEST_SHA,
  type ManifestFile,
  manifestBytes,
  manifestShaBytes,
  PACKET_FORMAT,
  type PacketManifest,
  sha256Hex,
  type VerifyResult,
  verifyMembers,
} from '../domain/packets/manifest.ts';
import { scenarioInfo } from '../domain/packets/scenarios.ts';
import { loadPacketData, type PacketData } from './packet-data.ts';
import { clueExtentM, type Picture, renderPicture } from './packet-images.ts';

/**
 * Inspection packets (现场核查包): for one clue, a PDF for the field team and the court, the
 * pictures it shows, navigation files (KML, GPX, GeoJSON) and a manifest hashing every file
 * plus the chain of custody; batches put one packet per clue in a folder of one zip.
 */

export interface PacketOptions {
  detectorsDir: string;
  /** Base URL of the web app; the QR code links to `<base>/#clue=<id>`. */
  publicUrl: string;
  /** Who asked for it (user name, or the CLI's user). */
  generatedBy: string;
  now?: Date;
}

export interface PacketFile {
  path: string;
  bytes: Uint8Array;
}

export interface BuiltPacket {
  clueId: number;
  files: PacketFile[];
  manifest: PacketManifest;
}

export function packetBaseName(id: number): string {
  return `clue-${id}`;
}

export function clueUrl(publicUrl: string, id: number): string {
  return `${publicUrl.replace(/\/+$/, '')}/#clue=${id}`;
}

const CHIP_PX = 480;
const OVERVIEW_PX = 640;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function pictureFacts(p: Picture | null): PictureFacts | null {
  return p
    ? { scene: p.scene, clearFraction: p.clearFraction, sideM: p.sideM, resolutionM: p.resolutionM }
    : null;
}

/** Lines of the county boundaries and the overlapping zones within a lon/lat box. */
async function overviewLines(
  pool: pg.Pool,
  clueId: number,
  bbox: [number, number, number, number],
): Promise<{ boundaries: number[][][]; zones: number[][][] }> {
  const { rows } = await pool.query<{ kind: string; lines: string }>(
    `WITH v AS (SELECT ST_MakeEnvelope($1, $2, $3, $4, 4326) AS env), c AS (SELECT geom FROM clues WHERE id = $5)
     SELECT z.kind, ST_AsGeoJSON(ST_Intersection(ST_Boundary(z.geom), v.env), 6) AS lines
       FROM zones z, v, c
      WHERE z.geom && v.env
        AND (z.kind = 'admin_division' OR ST_Intersects(z.geom, c.geom))
        AND ST_Intersects(ST_Boundary(z.geom), v.env)`,
    [...bbox, clueId],
  );
  const collect = (g: { type: string; coordinates?: unknown; geometries?: unknown[] }, out: number[][][]) => {
    if (g.type === 'LineString') out.push(g.coordinates as number[][]);
    else if (g.type === 'MultiLineString') out.push(...(g.coordinates as number[][][]));
    else if (g.type === 'GeometryCollection')
      for (const sub of (g.geometries ?? []) as { type: string }[]) collect(sub, out);
  };
  const boundaries: number[][][] = [];
  const zones: number[][][] = [];
  for (const r of rows) collect(JSON.parse(r.lines), r.kind === 'admin_division' ? boundaries : zones);
  return { boundaries, zones };
}

async function pictures(pool: pg.Pool, d: PacketData) {
  const c = d.clue;
  const extent = clueExtentM(c.coords, c.centroid);
  const chipSide = clamp(extent * 3.5, 300, 6000);
  const overviewSide = clamp(extent * 10, 4000, 20000);
  const outline = { clue: c.coords };
  const before = await renderPicture(d.before, c.beforeScene, c.centroid, chipSide, CHIP_PX, outline, 0.6);
  const after = await renderPicture(d.after, c.afterScene, c.centroid, chipSide, CHIP_PX, outline, 0.6);
  // The overview uses the scene the after chip chose (else any candidate), over a larger area.
  const chosen = after.picture?.scene.id ?? before.picture?.scene.id ?? null;
  const candidates = chosen
    ? [...d.after, ...d.before].filter((s) => s.id === chosen)
    : [...d.after, ...d.before];
  const half = overviewSide / 2 / 111_000;
  const k = Math.cos((c.centroid[1] * Math.PI) / 180);
  const bbox: [number, number, number, number] = [
    c.centroid[0] - half / k,
    c.centroid[1] - half,
    c.centroid[0] + half / k,
    c.centroid[1] + half,
  ];
  const lines = await overviewLines(pool, c.id, bbox);
  const overview = await renderPicture(
    candidates.slice(0, 1),
    chosen,
    c.centroid,
    overviewSide,
    OVERVIEW_PX,
    { clue: c.coords, boundaries: lines.boundaries, zones: lines.zones, marker: c.centroid, scaleBar: true },
    1,
  );
  return { before, after, overview };
}

function geojsonOf(d: PacketData, url: string): string {
  const c = d.clue;
  const sc = scenarioInfo(c.scenario);
  const props = {
    clue_id: c.id,
    clue_no: clueNumber(c.id),
    scenario: c.scenario,
    scenario_zh: sc.zh,
    status: c.status,
    confidence: c.confidence,
    area_m2: c.areaM2,
    area_ha: c.areaHa,
    area_mu: c.areaMu,
    first_seen: c.firstSeen,
    last_seen: c.lastSeen,
    county: d.county?.name ?? null,
    county_adcode: d.county?.adcode ?? c.countyAdcode,
    detector: c.detector,
    model_version: c.modelVersion,
    url,
  };
  const features: unknown[] = [
    {
      type: 'Feature',
      id: c.id,
      properties: props,
      geometry: { type: 'MultiPolygon', coordinates: c.coords },
    },
    {
      type: 'Feature',
      properties: { clue_id: c.id, role: 'centroid', name: `线索 ${clueNumber(c.id)} 中心点` },
      geometry: { type: 'Point', coordinates: c.centroid },
    },
  ];
  if (!c.centroidInside)
    features.push({
      type: 'Feature',
      properties: { clue_id: c.id, role: 'point_inside', name: `线索 ${clueNumber(c.id)} 图斑内导航点` },
      geometry: { type: 'Point', coordinates: c.pointOnSurface },
    });
  return `${JSON.stringify({ type: 'FeatureCollection', features }, null, 1)}\n`;
}

function navigationPoints(d: PacketData) {
  const c = d.clue;
  const no = clueNumber(c.id);
  const points = [
    {
      name: `线索 ${no} 中心点 centroid`,
      lon: c.centroid[0],
      lat: c.centroid[1],
      description: `${formatLatLon(c.centroid)} / ${formatLatLonDms(c.centroid)}`,
    },
  ];
  if (!c.centroidInside)
    points.push({
      name: `线索 ${no} 图斑内导航点 point inside`,
      lon: c.pointOnSurface[0],
      lat: c.pointOnSurface[1],
      description: `${formatLatLon(c.pointOnSurface)} / ${formatLatLonDms(c.pointOnSurface)}`,
    });
  return points;
}

/** Build one clue's packet in memory. NOT_FOUND when the clue does not exist. */
export async function buildPacket(pool: pg.Pool, clueId: number, o: PacketOptions): Promise<BuiltPacket> {
  const now = o.now ?? new Date();
  const d = await loadPacketData(pool, clueId, o.detectorsDir);
  const c = d.clue;
  const base = packetBaseName(c.id);
  const url = clueUrl(o.publicUrl, c.id);
  const pics = await pictures(pool, d);
  const enc = new TextEncoder();
  const files: PacketFile[] = [];
  const imageFiles: PacketFile[] = [];
  if (pics.overview.picture)
    imageFiles.push({ path: 'images/overview.png', bytes: pics.overview.picture.png });
  if (pics.before.picture) imageFiles.push({ path: 'images/before.png', bytes: pics.before.picture.png });
  if (pics.after.picture) imageFiles.push({ path: 'images/after.png', bytes: pics.after.picture.png });
  const kmlClue = {
    id: c.id,
    scenario: c.scenario,
    status: c.status,
    confidence: c.confidence,
    area_m2: c.areaM2,
    area_ha: c.areaHa,
    area_mu: c.areaMu,
    first_seen: c.firstSeen,
    last_seen: c.lastSeen,
    county: d.county?.name ?? null,
    geometry: { type: 'MultiPolygon', coordinates: c.coords },
  };
  const points = navigationPoints(d);
  const nav: PacketFile[] = [
    { path: `${base}.geojson`, bytes: enc.encode(geojsonOf(d, url)) },
    { path: `${base}.kml`, bytes: enc.encode(clueNavigationKml(kmlClue, points)) },
    {
      path: `${base}.gpx`,
      bytes: enc.encode(
        toGpx({
          name: `线索 ${clueNumber(c.id)} ${scenarioInfo(c.scenario).zh}`,
          desc: url,
          time: now,
          waypoints: points.map((p) => ({ ...p, desc: p.description })),
          track: { name: `线索 ${clueNumber(c.id)} 边界 boundary`, rings: c.coords.flat() },
        }),
      ),
    },
  ];
  const pdfName = `${base}.pdf`;
  const facts: PacketFacts = {
    clue: c,
    county: d.county,
    township: d.township,
    zones: d.zones,
    events: d.events,
    detector: {
      nameZh: d.detector.manifest?.name.zh ?? null,
      nameEn: d.detector.manifest?.name.en ?? null,
      legalBasis: d.detector.manifest?.legalBasis ?? null,
      currentModelSha256: d.detector.manifest?.model.sha256 ?? null,
    },
    before: pictureFacts(pics.before.picture),
    after: pictureFacts(pics.after.picture),
    beforeNote: pics.before.picture ? null : pics.before.notes.join('; '),
    afterNote: pics.after.picture ? null : pics.after.notes.join('; '),
    overview: pictureFacts(pics.overview.picture),
    custody: d.custody,
    url,
    generatedAt: now,
    generatedBy: o.generatedBy,
    files: [pdfName, ...nav.map((f) => f.path), ...imageFiles.map((f) => f.path)],
  };
  const pdf = await renderPacketPdf(
    packetDocument(facts),
    {
      before: pics.before.picture?.jpeg ?? null,
      after: pics.after.picture?.jpeg ?? null,
      overview: pics.overview.picture?.jpeg ?? null,
      locator: { outline: d.countyOutline, point: c.centroid },
    },
    now,
  );
  files.push({ path: pdfName, bytes: pdf }, ...nav, ...imageFiles);
  const manifest: PacketManifest = {
    format: PACKET_FORMAT,
    kind: 'packet',
    generatedAt: now.toISOString(),
    generatedBy: o.generatedBy,
    clues: [c.id],
    files: files.map((f) => fileEntry(f.path, f.bytes)),
    custody: d.custody,
  };
  const mBytes = manifestBytes(manifest);
  files.push({ path: MANIFEST, bytes: mBytes }, { path: MANIFEST_SHA, bytes: manifestShaBytes(mBytes) });
  await recordIssue(pool, manifest, mBytes);
  return { clueId: c.id, files, manifest };
}

/** Already-compressed members (PDF, PNG) are stored; text is deflated. */
function compressible(path: string): boolean {
  return !/\.(pdf|png)$/i.test(path);
}

/** A single packet as a zip (members at the root). */
export function zipPacket(p: BuiltPacket): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const f of p.files) entries[f.path] = [f.bytes, { level: compressible(f.path) ? 6 : 0 }];
  return zipSync(entries);
}

/** `packet <id> --out <dir>`: the files in `<dir>/clue-<id>/` and `<dir>/clue-<id>.zip`. */
export async function writePacket(p: BuiltPacket, outDir: string): Promise<{ dir: string; zip: string }> {
  const dir = join(outDir, packetBaseName(p.clueId));
  const zip = join(outDir, `${packetBaseName(p.clueId)}.zip`);
  // Written beside, then renamed: a failed run leaves no half packet behind.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const f of p.files) {
    const path = join(tmp, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.bytes);
  }
  await writeFile(`${zip}.tmp-${process.pid}`, zipPacket(p));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  await rename(`${zip}.tmp-${process.pid}`, zip);
  return { dir, zip };
}

// ---- issue records ---------------------------------------------------------------------------

/** Record an issued packet or batch by its manifest hash (append-only `packet_issues`). */
async function recordIssue(pool: pg.Pool, m: PacketManifest, manifest: Uint8Array): Promise<void> {
  await pool.query(
    `INSERT INTO packet_issues (manifest_sha256, kind, clue_ids, generated_by, generated_at)
     VALUES ($1, $2, $3::bigint[], $4, $5)`,
    [sha256Hex(manifest), m.kind, m.clues, m.generatedBy, m.generatedAt],
  );
}

export interface IssueRecord {
  id: number;
  kind: string;
  clueIds: number[];
  generatedBy: string;
  generatedAt: Date;
}

/** What the database recorded when a packet with this manifest hash was issued, if anything. */
export async function findIssue(pool: pg.Pool, manifestSha256: string): Promise<IssueRecord | null> {
  const { rows } = await pool.query(
    `SELECT id, kind, clue_ids, generated_by, generated_at FROM packet_issues
      WHERE manifest_sha256 = $1 ORDER BY id LIMIT 1`,
    [manifestSha256],
  );
  const r = rows[0];
  return r
    ? {
        id: Number(r.id),
        kind: r.kind,
        clueIds: (r.clue_ids as string[]).map(Number),
        generatedBy: r.generated_by,
        generatedAt: r.generated_at,
      }
    : null;
}

/** SHA-256 of the top-level manifest.json of a packet or batch zip (null when absent). */
export function zipManifestSha256(zip: Uint8Array): string | null {
  try {
    const m = unzipSync(zip, { filter: (f) => f.name === MANIFEST })[MANIFEST];
    return m ? sha256Hex(m) : null;
  } catch {
    return null;
  }
}

// ---- batches -------------------------------------------------------------------------------

export interface BatchFilter {
  county?: string;
  status?: string;
  scenario?: string;
  ids?: number[];
}

/** Most clues one batch may hold (a batch of 100 takes about a minute or two). */
export const MAX_BATCH = 500;

/**
 * The clues a batch covers, oldest id first, limited to what `actor` may see. A county-scoped
 * user asking for a county outside their own is refused (403); a filter matching more than
 * `max` clues or none is a 400/404.
 */
export async function selectBatchClues(
  pool: pg.Pool,
  f: BatchFilter,
  actor: Actor | null,
  max = MAX_BATCH,
): Promise<number[]> {
  if (!f.county && !f.status && !f.scenario && !f.ids?.length)
    throw new SkypatrolError('VALIDATION', 'a batch needs a filter: county, status, scenario or clue ids');
  if (f.county && !/^\d{6}$/.test(f.county))
    throw new SkypatrolError('VALIDATION', `county must be a 6-digit adcode; got "${f.county}"`);
  const scoped = actor !== null && isCountyScoped(actor.role);
  if (scoped && f.county && !actor.counties.includes(f.county))
    throw new SkypatrolError(
      'FORBIDDEN',
      `county ${f.county} is outside your counties (${actor.counties.join(', ')})`,
    );
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  if (scoped) where.push(`county_adcode = ANY(${arg([...actor.counties])}::text[])`);
  if (f.county) where.push(`county_adcode = ${arg(f.county)}`);
  if (f.status) where.push(`status = ${arg(f.status)}`);
  if (f.scenario) where.push(`scenario = ${arg(f.scenario)}`);
  if (f.ids?.length) where.push(`id = ANY(${arg(f.ids)}::bigint[])`);
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM clues WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${arg(max + 1)}`,
    args,
  );
  if (rows.length > max)
    throw new SkypatrolError(
      'VALIDATION',
      `more than ${max} clues match; narrow the filter (county, status, scenario) to at most ${max} per batch`,
    );
  if (f.ids?.length && rows.length < new Set(f.ids).size) {
    const found = new Set(rows.map((r) => Number(r.id)));
    const missing = f.ids.filter((id) => !found.has(id));
    throw new SkypatrolError('NOT_FOUND', `clue(s) ${missing.join(', ')} do not exist`);
  }
  if (rows.length === 0) throw new SkypatrolError('NOT_FOUND', 'no clue matches the batch filter');
  return rows.map((r) => Number(r.id));
}

/**
 * Stream a batch zip: `clue-<id>/…` per clue (each a complete packet with its own manifest),
 * then a top-level manifest listing every member. Packets are built two at a time (image
 * encoding runs off the main thread) and written in id order; bytes go to `write` as the
 * zip grows, so a batch never sits in memory whole.
 */
export async function streamBatch(
  pool: pg.Pool,
  clueIds: number[],
  o: PacketOptions,
  write: (chunk: Uint8Array) => void,
  onPacket?: (done: number, total: number) => void,
  /** Stops building (e.g. the HTTP client went away); the promise then rejects. */
  signal?: AbortSignal,
): Promise<PacketManifest> {
  const now = o.now ?? new Date();
  let settle!: { resolve: () => void; reject: (err: Error) => void };
  const finished = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  finished.catch(() => {});
  const zip = new Zip((err, chunk, final) => {
    if (err) return settle.reject(err);
    write(chunk);
    if (final) settle.resolve();
  });
  const entries: ManifestFile[] = [];
  const add = (path: string, bytes: Uint8Array) => {
    const entry = compressible(path) ? new ZipDeflate(path, { level: 6 }) : new ZipPassThrough(path);
    zip.add(entry);
    entry.push(bytes, true);
    entries.push(fileEntry(path, bytes));
  };
  const build = (id: number) => buildPacket(pool, id, { ...o, now });
  const inFlight: Promise<BuiltPacket>[] = [];
  const CONCURRENCY = 2;
  let next = 0;
  let done = 0;
  try {
    while (inFlight.length < CONCURRENCY && next < clueIds.length) inFlight.push(build(clueIds[next++]!));
    while (inFlight.length) {
      const p = await inFlight.shift()!;
      if (signal?.aborted) throw new Error('packet batch aborted');
      if (next < clueIds.length) inFlight.push(build(clueIds[next++]!));
      for (const f of p.files) add(`${packetBaseName(p.clueId)}/${f.path}`, f.bytes);
      onPacket?.(++done, clueIds.length);
    }
  } catch (err) {
    await Promise.allSettled(inFlight);
    zip.terminate();
    throw err;
  }
  const manifest: PacketManifest = {
    format: PACKET_FORMAT,
    kind: 'batch',
    generatedAt: now.toISOString(),
    generatedBy: o.generatedBy,
    clues: clueIds,
    files: entries,
    packets: clueIds.map((id) => ({ clueId: id, dir: `${packetBaseName(id)}/` })),
  };
  const mBytes = manifestBytes(manifest);
  await recordIssue(pool, manifest, mBytes);
  const m = new ZipDeflate(MANIFEST, { level: 6 });
  zip.add(m);
  m.push(mBytes, true);
  const s = new ZipPassThrough(MANIFEST_SHA);
  zip.add(s);
  s.push(manifestShaBytes(mBytes), true);
  zip.end();
  await finished;
  return manifest;
}

// ---- verify --------------------------------------------------------------------------------

/** Verify packet or batch zip bytes: recompute every hash in its manifest(s). */
export function verifyPacketBytes(zip: Uint8Array): VerifyResult {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(zip);
  } catch (err) {
    throw new SkypatrolError('VALIDATION', `not a readable zip file: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return verifyMembers(new Map(Object.entries(members)));
}

export async function verifyPacketFile(path: string): Promise<VerifyResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SkypatrolError('NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return verifyPacketBytes(bytes);
}
