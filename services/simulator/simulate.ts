import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { encodePng } from '../adapters/image/encode.ts';
import { SkypatrolError } from '../core/errors.ts';
import { transformFn } from '../domain/geo/crs.ts';
import { areaOf, MMU_M2, type PlantedEvent, planEvents, SCENARIOS, WINDOWS } from './events.ts';
import { buildLandscape, type GeoInput, type GeoJsonFC, type Landscape } from './landscape.ts';
import { DEFAULT_CENTER, makeRegion, parseCenter, parseSize, type Region } from './region.ts';
import {
  geojsonText,
  json,
  type ManifestEntry,
  maskPolygons,
  type Preview,
  renderScene,
  type SceneContext,
  type SceneOutput,
  simplified,
} from './scene-render.ts';
import type { WorkerInput } from './scene-worker.ts';
import { type SceneDef, type SensorKind, sceneDefs, spectrumIds } from './scenes.ts';
import { PRJ_EPSG_4548, type ShpField, shapefileZip } from './shapefile-writer.ts';
import { CLASS } from './spectra.ts';
import { stacCatalog, stacCollection } from './stac-writer.ts';
import {
  ADMIN_ATTRIBUTION,
  APPROVAL_NO,
  adminLayer,
  baseZones,
  grasslandLayer,
  layerCollection,
  ZONE_KINDS,
  type ZoneFeature,
  type ZoneKind,
} from './zoning.ts';

/**
 * `simulate`: writes a complete, deterministic test world for the patrol — multi-sensor COGs
 * with a STAC catalog, zoning layers (GeoJSON and zipped Shapefile), the ground truth of every
 * planted event and decoy, a README and a manifest of SHA-256 hashes.
 */

export interface SimulateOptions {
  out: string;
  seed?: number;
  /** `small`, `demo` or km. */
  size?: string | number;
  /** `lon,lat` or a pair. */
  center?: string | [number, number];
  /** Also write true/false-colour PNGs of the clearest before/after Sentinel-2 scenes. */
  preview?: boolean;
  /** Longest side of the preview PNGs (default 1024). */
  previewSize?: number;
  /** Scene workers (default: 2 on large regions, none below 2,000 px square). */
  workers?: number;
  /** Where the Natural Earth / county GeoJSON copies live (default: beside this file). */
  geoDir?: string;
  log?: (line: string) => void;
}

export interface SimulateResult {
  out: string;
  region: Region;
  files: ManifestEntry[];
  scenes: SceneDef[];
  events: number;
  decoys: number;
  seconds: number;
}

const GEO_DIR = resolve(import.meta.dirname, 'geo');
const OUR_TOP = ['catalog.json', 'manifest.json', 'truth.geojson', 'README.md', 'zoning', 'preview'];

async function readGeo(dir: string): Promise<GeoInput> {
  const read = async (name: string) => JSON.parse(await readFile(join(dir, name), 'utf8')) as GeoJsonFC;
  return {
    lakes: await read('ne-lakes-hulunbuir.geojson'),
    rivers: await read('ne-rivers-hulunbuir.geojson'),
    places: await read('ne-places-hulunbuir.geojson'),
    counties: await read('hulunbuir-counties.geojson'),
  };
}

/** Refuses a folder holding anything but an earlier run; clears an earlier run. */
async function prepareOut(out: string, collections: string[]): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(out);
  } catch {
    await mkdir(out, { recursive: true });
    return;
  }
  if (!names.length) return;
  if (!names.includes('manifest.json')) {
    throw new SkypatrolError(
      'VALIDATION',
      `--out ${out} is not empty and holds no earlier simulation (manifest.json)`,
    );
  }
  for (const n of [...OUR_TOP, ...collections]) await rm(join(out, n), { recursive: true, force: true });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Runs the simulation into `opts.out`. */
export async function simulate(opts: SimulateOptions): Promise<SimulateResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const seed = (opts.seed ?? 1) >>> 0;
  const sizeKm = parseSize(opts.size);
  const center = Array.isArray(opts.center) ? opts.center : parseCenter(opts.center);
  const region = makeRegion(center, sizeKm);
  const out = resolve(opts.out);
  const files = new Map<string, ManifestEntry>();
  const scenes = sceneDefs(region, seed);
  const sensors = [...new Set(scenes.map((s) => s.sensor))] as SensorKind[];
  await prepareOut(out, [...new Set(scenes.map((s) => s.collection))]);

  const put = async (rel: string, data: Buffer | string) => {
    const path = join(out, rel);
    await mkdir(dirname(path), { recursive: true });
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await writeFile(path, buf);
    files.set(rel, { path: rel, bytes: buf.length, sha256: sha256(buf) });
  };

  const geo = await readGeo(opts.geoDir ?? GEO_DIR);
  const l = buildLandscape(region, geo, seed);
  const zones = baseZones(l);
  const plan = planEvents(l, zones, seed);
  log(
    `region ${region.sizeKm} km square at ${center[0]}°E ${center[1]}°N (EPSG:${region.epsg}), ${l.width}×${l.height} px at 10 m; ` +
      `${l.parcels.length} parcels, ${l.forests.length} forest patches, ${l.mines.length} mines, ${l.settlements.length} settlements; ` +
      `${plan.events.length} planted events`,
  );

  // --- Imagery ------------------------------------------------------------------------------------
  const previewOf: Record<string, string> = {};
  const firstClear = scenes.find((s) => s.sensor === 's2' && s.window === 'before' && s.cloudCover === 0);
  const lastClear = scenes.findLast((s) => s.sensor === 's2' && s.window === 'after' && s.cloudCover === 0);
  if (opts.preview && firstClear) previewOf[firstClear.id] = 'before';
  if (opts.preview && lastClear) previewOf[lastClear.id] = 'after';
  const ctx: SceneContext = {
    l,
    events: plan.events,
    seed,
    out,
    previewOf,
    previewSize: opts.previewSize ?? 1024,
    log,
  };
  const workers = opts.workers ?? (l.width * l.height >= 4_000_000 ? Math.min(2, availableParallelism()) : 0);
  const outputs = workers > 1 ? await renderInWorkers(ctx, scenes, workers) : [];
  if (workers <= 1) for (const scene of scenes) outputs.push(await renderScene(ctx, scene));
  const shadowDecoys: PlantedEvent[] = [];
  const previews: Preview[] = [];
  const items = new Map<SensorKind, { scene: SceneDef; bbox: number[] }[]>();
  scenes.forEach((scene, k) => {
    const o = outputs[k]!;
    for (const f of o.files) files.set(f.path, f);
    shadowDecoys.push(...o.shadows);
    previews.push(...o.previews);
    const list = items.get(scene.sensor) ?? [];
    list.push({ scene, bbox: o.bbox });
    items.set(scene.sensor, list);
  });

  // --- STAC catalog ----------------------------------------------------------------------------------
  for (const sensor of sensors) {
    const list = items.get(sensor)!;
    const gsd = sensor === 's2' ? [10, 20] : sensor === 'landsat' ? [30] : [16];
    const c = stacCollection(
      sensor,
      list.map((x) => x.scene),
      list.map((x) => x.bbox),
      list.map((x) => x.scene.platform),
      gsd,
    );
    await put(`${list[0]!.scene.collection}/collection.json`, json(c));
  }
  await put(
    'catalog.json',
    json(
      stacCatalog(
        sensors,
        `Simulated Sentinel-2 L2A, Landsat 8/9 C2 L2 and GF-1 WFV scenes over the real geography around the north shore of Hulun Nuur (${region.sizeKm} km square, seed ${seed}). Not real imagery.`,
      ),
    ),
  );

  // --- Zoning -------------------------------------------------------------------------------------
  const layers: Partial<Record<ZoneKind, ZoneFeature[]>> = {
    ...zones.layers,
    temporary_land_permit: plan.tempPermits,
  };
  layers.grassland = grasslandLayer(l, layers);
  layers.admin_division = adminLayer(geo.counties);
  for (const kind of ZONE_KINDS)
    await put(`zoning/${kind}.geojson`, geojsonText(layerCollection(kind, layers[kind] ?? [])));
  const toGk = transformFn(4326, 4548)!;
  const gk = (features: ZoneFeature[]) =>
    features.map((f) => ({
      polygons: (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates).map(
        (poly) =>
          poly.map((ring) =>
            ring.map((p) => {
              const [x, y] = toGk(p[0]!, p[1]!);
              return [Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000] as [number, number];
            }),
          ),
      ),
      properties: f.properties,
    }));
  const tempFields: ShpField[] = [
    { name: 'permit_no', type: 'C' },
    { name: 'reclaim_by', type: 'D' },
    { name: 'holder', type: 'C' },
    { name: 'valid_from', type: 'D' },
    { name: 'valid_to', type: 'D' },
    { name: 'purpose', type: 'C' },
  ];
  const mineFields: ShpField[] = [
    { name: 'permit_no', type: 'C' },
    { name: 'valid_to', type: 'D' },
    { name: 'holder', type: 'C' },
    { name: 'valid_from', type: 'D' },
    { name: 'mineral', type: 'C' },
  ];
  await put(
    'zoning/temporary_land_permit_cgcs2000_gk117.shp.zip',
    shapefileZip('temporary_land_permit', gk(layers.temporary_land_permit ?? []), tempFields, PRJ_EPSG_4548),
  );
  await put(
    'zoning/mining_permit_cgcs2000_gk117.shp.zip',
    shapefileZip('mining_permit', gk(layers.mining_permit ?? []), mineFields, PRJ_EPSG_4548),
  );

  // --- Ground truth -----------------------------------------------------------------------------------
  const lakeDecoy = lakeLevelTruth(l, plan.events, scenes);
  const all = [...plan.events, ...(lakeDecoy ? [lakeDecoy] : []), ...shadowDecoys];
  const truth = {
    type: 'FeatureCollection',
    name: 'truth',
    mmu_m2: MMU_M2,
    windows: WINDOWS,
    scenarios: SCENARIOS,
    features: all.map((e) => truthFeature(e)),
  };
  await put('truth.geojson', geojsonText(truth));

  if (opts.preview) {
    for (const p of previews) await put(`preview/${p.name}.png`, await encodePng(p.rgba, p.width, p.height));
  }
  await put('README.md', datasetReadme(region, seed, scenes, all));
  const entries = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = {
    generator: 'skypatrol simulate',
    version: 1,
    seed,
    size_km: region.sizeKm,
    center: region.center,
    default_center: DEFAULT_CENTER,
    epsg: region.epsg,
    files: entries,
  };
  await writeFile(join(out, 'manifest.json'), json(manifest));
  const decoys = all.filter((e) => e.expected === 'decoy').length;
  return {
    out,
    region,
    files: entries,
    scenes,
    events: all.length - decoys,
    decoys,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Truth feature of an event. */
function truthFeature(e: PlantedEvent): Feature<Polygon | MultiPolygon> {
  return {
    type: 'Feature',
    id: e.id,
    properties: {
      id: e.id,
      scenario: e.scenario,
      expected: e.expected,
      kind: e.kind,
      reason: e.reason,
      event_date: e.date,
      ...(e.until ? { until: e.until } : {}),
      before: `${WINDOWS.before.from}/${WINDOWS.before.to}`,
      after: `${WINDOWS.after.from}/${WINDOWS.after.to}`,
      area_m2: e.areaM2,
      below_mmu: e.areaM2 < MMU_M2,
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.alsoScenarios?.length ? { also_scenarios: e.alsoScenarios } : {}),
      ...(e.scene ? { scene: e.scene } : {}),
    },
    geometry: e.geometry,
  };
}

/** Decoy: shore exposed by the seasonal fall of the lake between June 2024 and August 2025. */
function lakeLevelTruth(l: Landscape, events: PlantedEvent[], scenes: SceneDef[]): PlantedEvent | null {
  const first = scenes.find((s) => s.window === 'before')!;
  const last = scenes.findLast((s) => s.window === 'after')!;
  const a = spectrumIds(l, events, new Date(first.datetime));
  const b = spectrumIds(l, events, new Date(last.datetime));
  const mask = new Float32Array(a.length);
  let any = false;
  for (let i = 0; i < a.length; i++) {
    if (b[i] === CLASS.mudflat && a[i] !== CLASS.mudflat) {
      mask[i] = 1;
      any = true;
    }
  }
  if (!any) return null;
  const polys = maskPolygons(l, mask, MMU_M2);
  if (!polys.length) return null;
  const geometry = simplified({ type: 'MultiPolygon', coordinates: polys.flatMap((p) => p.coordinates) });
  return {
    id: 'EV-LAKE-LEVEL',
    scenario: 'hulun-lake',
    expected: 'decoy',
    kind: 'seasonal-lake-level',
    reason: 'natural: the lake is lower in late summer and exposes its shallow shore (wet mud), then returns',
    date: last.datetime.slice(0, 10),
    paint: [],
    geometry,
    areaM2: Math.round(areaOf(geometry)),
  };
}

function datasetReadme(region: Region, seed: number, scenes: SceneDef[], events: PlantedEvent[]): string {
  const count = (s: string, e: 'clue' | 'decoy') =>
    events.filter((x) => x.scenario === s && x.expected === e).length;
  return [
    '# Skypatrol simulated region (not real imagery)',
    '',
    `Seed ${seed}; ${region.sizeKm} km square centred at ${region.center[0]}°E ${region.center[1]}°N; rasters in EPSG:${region.epsg}.`,
    'Generated by `npx skypatrol simulate`; see services/simulator/README.md in the Skypatrol repository.',
    '',
    '- `catalog.json` — STAC catalog → one collection per sensor → items (COG assets).',
    '- `zoning/*.geojson` — zoning layers (EPSG:4326, RFC 7946); `zoning/*_cgcs2000_gk117.shp.zip` — the permits as',
    '  zipped Shapefiles in CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548).',
    '- `truth.geojson` — every planted event and decoy: scenario, expected (clue/decoy), reason, dates, area;',
    '  `also_scenarios` lists the other scenarios an unlawful change falls under (inside their zoning layer, with their signal).',
    '- `manifest.json` — every file with its SHA-256.',
    '',
    '| scene | sensor | date | target cloud |',
    '|---|---|---|---|',
    ...scenes.map(
      (s) => `| ${s.id} | ${s.platform} | ${s.datetime.slice(0, 10)} | ${Math.round(s.cloudCover * 100)} % |`,
    ),
    '',
    '| scenario | clues | decoys |',
    '|---|---|---|',
    ...SCENARIOS.map((s) => `| ${s} | ${count(s, 'clue')} | ${count(s, 'decoy')} |`),
    '',
    '## Attribution',
    '',
    '- Lakes, rivers, places: Natural Earth 1:10m (public domain). The Dalan Eluomu outflow channel is approximated',
    '  (a meandering line from the north tip of Hulun Nuur to the head of the Argun′; Natural Earth omits it).',
    `- County boundaries (zoning/admin_division.geojson): ${ADMIN_ATTRIBUTION}.`,
    `  Any map showing these boundaries must print the approval number ${APPROVAL_NO}.`,
    '- All other zoning layers, permits, holders and events are invented for testing.',
    '',
  ].join('\n');
}

/** Renders the scenes on `n` worker threads (balanced by cost); outputs in scene order. */
async function renderInWorkers(ctx: SceneContext, scenes: SceneDef[], n: number): Promise<SceneOutput[]> {
  const cost = (s: SceneDef) => (s.sensor === 's2' ? 10 : s.sensor === 'landsat' ? 4 : 3);
  const lanes: { index: number; scene: SceneDef }[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  scenes.forEach((scene, index) => {
    const k = load.indexOf(Math.min(...load));
    lanes[k]!.push({ index, scene });
    load[k]! += cost(scene);
  });
  const { region, ...landscape } = ctx.l;
  const outputs: SceneOutput[] = new Array(scenes.length);
  await Promise.all(
    lanes.map(
      (lane) =>
        new Promise<void>((resolvePromise, reject) => {
          const input: WorkerInput = {
            landscape,
            center: region.center,
            sizeKm: region.sizeKm,
            ctx: {
              events: ctx.events,
              seed: ctx.seed,
              out: ctx.out,
              previewOf: ctx.previewOf,
              previewSize: ctx.previewSize,
            },
            scenes: lane,
          };
          const w = new Worker(new URL('./scene-worker.mjs', import.meta.url), { workerData: input });
          let done = 0;
          w.on('message', (m: { log?: string; index?: number; output?: SceneOutput }) => {
            if (m.log) ctx.log(m.log);
            if (m.output && m.index !== undefined) {
              outputs[m.index] = m.output;
              if (++done === lane.length) void w.terminate().then(() => resolvePromise());
            }
          });
          w.on('error', reject);
          w.on('exit', (code) => {
            if (done < lane.length)
              reject(new Error(`scene worker stopped (exit ${code}) after ${done} of ${lane.length} scenes`));
          });
        }),
    ),
  );
  return outputs;
}
