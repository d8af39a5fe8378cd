import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { wrapError } from '../../core/errors.ts';
import { type FusePart, fuseModels, fusionBlocker, fusionGroupKey, windowDependence } from './fuse.ts';
import { optimizeForCpu } from './optimize.ts';

/**
 * ONNX Runtime sessions, created once per model file and reused across tiles.
 * Threads: `threads` intra-op threads (0 = onnxruntime's default, one per core).
 * The session runs the model after optimize.ts's rewrites (merged MLP heads, feature stacks
 * padded for blocked convolutions); `SKYPATROL_ONNX_REWRITE=0` runs the model as stored.
 */
export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The serialised model (kept so models can be fused into one session). */
  readonly bytes: Uint8Array;
  readonly threads: number;
  run(
    feeds: Record<string, { data: Float32Array; dims: number[] }>,
  ): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  release(): Promise<void>;
}

export async function loadModel(source: string | Uint8Array, threads = 0): Promise<ModelRunner> {
  let session: ort.InferenceSession;
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? await readFile(source) : source;
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // onnxruntime's memory pattern plans one block for a run's tensors from the first run of
      // a shape; with it, the first two runs of a session took about 300 ms more than later ones
      // (536 px windows, 4–8 fused detectors) and later runs 5–30 % more than without it.
      enableMemPattern: false,
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    };
    const rewritten = sessionBytes(bytes);
    // Should onnxruntime refuse the rewritten graph, the model runs as stored (its own
    // refusal, if any, is the error reported).
    session = await ort.InferenceSession.create(rewritten, options).catch((err) => {
      if (rewritten === bytes) throw err;
      return ort.InferenceSession.create(bytes, options);
    });
  } catch (err) {
    throw wrapError(
      err,
      'DETECTOR_INVALID',
      `cannot load ONNX model ${typeof source === 'string' ? source : '(bytes)'}`,
    );
  }
  let released = false;
  const runner: ModelRunner = {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    bytes,
    threads,
    async run(feeds) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds))
        tensors[name] = new ort.Tensor('float32', t.data, t.dims);
      try {
        const result = await session.run(tensors);
        const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
        for (const [name, t] of Object.entries(result))
          out[name] = { data: t.data as Float32Array, dims: t.dims };
        return out;
      } catch (err) {
        throw wrapError(err, 'MODEL_FAILED', 'ONNX inference failed');
      }
    },
    async release() {
      if (released) return;
      released = true;
      releaseFusedWith(runner);
      await session.release();
    },
  };
  return runner;
}

/** The bytes a session is created from: the model after optimize.ts's rewrites, unless disabled. */
function sessionBytes(bytes: Uint8Array): Uint8Array {
  if (process.env.SKYPATROL_ONNX_REWRITE === '0') return bytes;
  try {
    return optimizeForCpu(bytes);
  } catch {
    // Not a graph the rewrites understand (or not ONNX at all): onnxruntime says why, if anything.
    return bytes;
  }
}

// ---------------------------------------------------------------------------------------
// Fused sessions: several detectors' models run as one graph (see fuse.ts), built on first
// use for a combination of models and feeds and kept while those models are loaded.

export interface FusedMember {
  runner: ModelRunner;
  /** Unique within the fused model (the detector id). */
  prefix: string;
  /** The member's graph input name → shared feed name. */
  inputs: Record<string, string>;
}

export interface FusedRunner {
  runner: ModelRunner;
  /** Per member (same order): its output name → fused output name. */
  outputs: Record<string, string>[];
}

const runnerIds = new WeakMap<ModelRunner, number>();
let nextRunnerId = 1;
function runnerId(r: ModelRunner): number {
  let id = runnerIds.get(r);
  if (id === undefined) {
    id = nextRunnerId++;
    runnerIds.set(r, id);
  }
  return id;
}

interface FusedEntry {
  members: ModelRunner[];
  fused: Promise<FusedRunner>;
}
/**
 * Fused sessions kept, oldest dropped beyond. Few: each keeps an onnxruntime memory arena of
 * its largest run (a few hundred MB for a 512 px window of eight detectors), and patrol tiles
 * run different subsets of detectors (the zone gate), so eight kept sessions took a worker from
 * 1.2 to 3.2 GB (three: 1.9 GB); building one again costs 15–80 ms (fuse + create, 3–8 detectors).
 * Measured again with the memory pattern off (patrol bench, 12 tiles, 1 worker): two kept
 * sessions peak at 1.2 GB a worker; six at 2.3 GB, and inference was no faster.
 */
const MAX_FUSED = 2;
const fusedCache = new Map<string, FusedEntry>();

function dropFused(key: string): void {
  const e = fusedCache.get(key);
  if (!e) return;
  fusedCache.delete(key);
  e.fused.then((f) => f.runner.release()).catch(() => {});
}

function releaseFusedWith(r: ModelRunner): void {
  for (const [key, e] of fusedCache) if (e.members.includes(r)) dropFused(key);
}

/** One session running every member's model on shared feeds; cached per combination. */
export function fusedRunner(members: FusedMember[]): Promise<FusedRunner> {
  const key = JSON.stringify(
    members.map((m) => [runnerId(m.runner), m.prefix, Object.entries(m.inputs).sort()]),
  );
  const hit = fusedCache.get(key);
  if (hit) {
    fusedCache.delete(key);
    fusedCache.set(key, hit);
    return hit.fused;
  }
  const fused = (async () => {
    const parts: FusePart[] = members.map((m) => ({
      prefix: m.prefix,
      bytes: m.runner.bytes,
      inputs: m.inputs,
    }));
    const model = fuseModels(parts);
    const threads = Math.max(...members.map((m) => m.runner.threads));
    return { runner: await loadModel(model.bytes, threads), outputs: model.outputs };
  })();
  fusedCache.set(key, { members: members.map((m) => m.runner), fused });
  fused.catch(() => fusedCache.delete(key));
  while (fusedCache.size > MAX_FUSED) dropFused(fusedCache.keys().next().value as string);
  return fused;
}

const fusionInfos = new WeakMap<ModelRunner, { group: string | null; windowDependent: boolean }>();
function fusionInfo(r: ModelRunner): { group: string | null; windowDependent: boolean } {
  let info = fusionInfos.get(r);
  if (!info) {
    info = {
      group: fusionBlocker(r.bytes) ? null : fusionGroupKey(r.bytes),
      windowDependent: windowDependence(r.bytes) !== null,
    };
    fusionInfos.set(r, info);
  }
  return info;
}
/** The fusion group of a runner's model (models of one group can share a session), or null. */
export function fusionGroup(r: ModelRunner): string | null {
  return fusionInfo(r).group;
}
/** Whether a runner's model reads its whole window at every pixel (see fuse.ts windowDependence). */
export function isWindowDependent(r: ModelRunner): boolean {
  return fusionInfo(r).windowDependent;
}
