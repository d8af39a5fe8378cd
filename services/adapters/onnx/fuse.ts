import { createHash } from 'node:crypto';
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Fuse several ONNX models into one, so a tile is run through a single inference session:
 *
 * - each model's nodes and intermediate tensors are renamed under its own prefix
 *   (`<prefix>/<name>`), so the models cannot collide;
 * - graph inputs are wired to shared feeds named by the caller (two detectors that read the
 *   same packed bands of the same date take the same feed);
 * - initializers with equal contents (type, dims and values) become one tensor.
 *
 * onnxruntime's common-subexpression elimination (a basic graph optimisation) then merges
 * the nodes that compute the same thing from the same inputs — the spectral indices and
 * neighbourhood statistics every scenario detector derives from the bands are computed once
 * instead of once per detector. Outputs are the models' outputs, renamed `<prefix>/<output>`.
 *
 * Any models honouring the manifest contract can be fused; models the fusion cannot rename
 * safely (control-flow subgraphs, model-local functions) or that import different operator
 * set versions are reported by `fusionBlocker` and run on their own.
 */

export interface FusePart {
  /** Unique prefix for this model's names, e.g. the detector id. */
  prefix: string;
  bytes: Uint8Array;
  /** Graph input name → shared feed name. Every graph input must be mapped. */
  inputs: Record<string, string>;
}

export interface FusedModel {
  bytes: Uint8Array;
  /** Per part: its output name → the fused model's output name. */
  outputs: Record<string, string>[];
}

type Model = OnnxTypes.ModelProto;

function decode(bytes: Uint8Array): Model {
  return onnx.ModelProto.decode(bytes);
}

/** Operator sets a model imports, as a stable key ("ai.onnx:17,com.microsoft:1"). */
function opsetKey(m: Model): string {
  return (m.opsetImport ?? [])
    .map((o) => `${o.domain || 'ai.onnx'}:${Number(o.version ?? 0)}`)
    .sort()
    .join(',');
}

/** Why this model cannot be fused with others (null when it can). */
export function fusionBlocker(bytes: Uint8Array): string | null {
  let m: Model;
  try {
    m = decode(bytes);
  } catch {
    return 'not an ONNX model';
  }
  if ((m.functions ?? []).length) return 'model-local functions';
  if ((m.graph?.sparseInitializer ?? []).length) return 'sparse initializers';
  for (const n of m.graph?.node ?? [])
    for (const a of n.attribute ?? [])
      if (a.g || (a.graphs ?? []).length) return `control-flow subgraph in ${n.opType}`;
  return null;
}

const REDUCE_OPS = new Set([
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** Integer values of an int64/int32 initializer, or null when it is not a plain constant. */
function intInitializer(t: OnnxTypes.ITensorProto | undefined): number[] | null {
  if (!t) return null;
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.int32Data?.length) return [...t.int32Data];
  if (t.rawData?.length) {
    const raw = t.rawData;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    if (t.dataType === 7)
      for (let o = 0; o + 8 <= raw.byteLength; o += 8) out.push(Number(view.getBigInt64(o, true)));
    else if (t.dataType === 6)
      for (let o = 0; o + 4 <= raw.byteLength; o += 4) out.push(view.getInt32(o, true));
    else return null;
    return out;
  }
  return (t.dims ?? []).length && Number(t.dims![0]) === 0 ? [] : null;
}

/**
 * Why a model's output at a pixel depends on the whole input window, not only on a
 * neighbourhood (a global pooling, or a reduction over the height or width axis of an NCHW
 * tensor), or null when it does not. Such a model must run in windows of exactly its declared
 * size and overlap: run in another model's larger windows (fusion), it would give other numbers.
 * A reduction whose axes are not a constant counts as spatial.
 */
export function windowDependence(bytes: Uint8Array): string | null {
  const m = decode(bytes);
  const inits = new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const n of m.graph?.node ?? []) {
    const op = n.opType ?? '';
    if (op === 'GlobalAveragePool' || op === 'GlobalMaxPool' || op === 'GlobalLpPool') return op;
    if (!REDUCE_OPS.has(op)) continue;
    const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
    let axes: number[] | null = null;
    const a = attr('axes');
    if (a) axes = (a.ints ?? []).map(Number);
    else if ((n.input ?? [])[1]) axes = intInitializer(inits.get(n.input![1]!));
    else axes = [];
    if (axes === null) return `${op} with computed axes`;
    const noopEmpty = Number(attr('noop_with_empty_axes')?.i ?? 0) === 1;
    if (!axes.length && !noopEmpty) return `${op} over every axis`;
    if (axes.some((x) => x === 2 || x === 3 || x === -1 || x === -2)) return `${op} over a spatial axis`;
  }
  return null;
}

/** Key under which models may be fused together (same operator sets). */
export function fusionGroupKey(bytes: Uint8Array): string {
  return opsetKey(decode(bytes));
}

function tensorKey(t: OnnxTypes.ITensorProto): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([t.dataType, (t.dims ?? []).map(String), t.dataLocation ?? 0]));
  if (t.rawData?.length) h.update(t.rawData);
  if (t.floatData?.length) h.update(Buffer.from(new Float32Array(t.floatData).buffer));
  if (t.doubleData?.length) h.update(Buffer.from(new Float64Array(t.doubleData).buffer));
  if (t.int32Data?.length) h.update(`i32:${t.int32Data.join(',')}`);
  if (t.int64Data?.length) h.update(`i64:${t.int64Data.map(String).join(',')}`);
  if (t.uint64Data?.length) h.update(`u64:${t.uint64Data.map(String).join(',')}`);
  if (t.stringData?.length) for (const s of t.stringData) h.update(s);
  if (t.externalData?.length) h.update(JSON.stringify(t.externalData));
  return h.digest('hex');
}

export function fuseModels(parts: FusePart[]): FusedModel {
  if (!parts.length) throw new Error('nothing to fuse');
  if (new Set(parts.map((p) => p.prefix)).size !== parts.length)
    throw new Error('fusion prefixes must differ');
  const models = parts.map((p) => decode(p.bytes));
  const opsets = new Set(models.map(opsetKey));
  if (opsets.size > 1) throw new Error(`models import different operator sets: ${[...opsets].join(' / ')}`);
  for (const p of parts) {
    const why = fusionBlocker(p.bytes);
    if (why) throw new Error(`model ${p.prefix} cannot be fused: ${why}`);
  }

  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers = new Map<string, OnnxTypes.ITensorProto>();
  const inputs = new Map<string, OnnxTypes.IValueInfoProto>();
  const outputs: OnnxTypes.IValueInfoProto[] = [];
  const outputMaps: Record<string, string>[] = [];

  models.forEach((m, i) => {
    const part = parts[i]!;
    const g = m.graph;
    if (!g) throw new Error(`model ${part.prefix} has no graph`);
    const rename = new Map<string, string>();
    const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
    for (const t of g.initializer ?? []) {
      const name = `const/${tensorKey(t)}`;
      rename.set(t.name ?? '', name);
      if (!initializers.has(name)) initializers.set(name, { ...t, name });
    }
    for (const input of g.input ?? []) {
      const name = input.name ?? '';
      if (initNames.has(name)) continue; // IR < 4: initializers listed as inputs
      const shared = part.inputs[name];
      if (!shared) throw new Error(`model ${part.prefix}: input "${name}" has no feed`);
      rename.set(name, shared);
      if (!inputs.has(shared)) inputs.set(shared, { ...input, name: shared });
    }
    const r = (name: string) => (name === '' ? '' : (rename.get(name) ?? `${part.prefix}/${name}`));
    for (const n of g.node ?? []) {
      nodes.push({
        ...n,
        name: `${part.prefix}/${n.name ?? ''}`,
        input: (n.input ?? []).map(r),
        output: (n.output ?? []).map(r),
      });
    }
    const map: Record<string, string> = {};
    for (const o of g.output ?? []) {
      const name = o.name ?? '';
      const fused = r(name);
      if (rename.has(name)) {
        // An output that is a graph input or a constant: pass it through a node of our own.
        const out = `${part.prefix}/${name}`;
        nodes.push({ opType: 'Identity', input: [fused], output: [out], name: `${part.prefix}/out_${name}` });
        map[name] = out;
        outputs.push({ ...o, name: out });
      } else {
        map[name] = fused;
        outputs.push({ ...o, name: fused });
      }
    }
    outputMaps.push(map);
  });

  const first = models[0]!;
  const model = onnx.ModelProto.create({
    irVersion: Math.max(...models.map((m) => Number(m.irVersion ?? 0))),
    producerName: 'skypatrol-fuse',
    producerVersion: '1',
    opsetImport: first.opsetImport ?? [],
    docString: `fused: ${parts.map((p) => p.prefix).join(', ')}`,
    graph: {
      name: 'skypatrol-fused',
      node: nodes,
      initializer: [...initializers.values()],
      input: [...inputs.values()],
      output: outputs,
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), outputs: outputMaps };
}
