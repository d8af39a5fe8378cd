import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { wrapError } from '../../core/errors.ts';

/**
 * ONNX Runtime sessions, created once per model file and reused across tiles.
 * Threads: `threads` intra-op threads (0 = onnxruntime's default, one per core).
 */
export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, { data: Float32Array; dims: number[] }>,
  ): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  release(): Promise<void>;
}

export async function loadModel(source: string | Uint8Array, threads = 0): Promise<ModelRunner> {
  let session: ort.InferenceSession;
  try {
    const bytes = typeof source === 'string' ? await readFile(source) : source;
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    });
  } catch (err) {
    throw wrapError(
      err,
      'DETECTOR_INVALID',
      `cannot load ONNX model ${typeof source === 'string' ? source : '(bytes)'}`,
    );
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
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
      await session.release();
    },
  };
}
