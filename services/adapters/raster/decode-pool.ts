import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlockDecoder } from './decoders.ts';

/** The IFD fields geotiff.js decoders read; the rest (offset arrays…) is not worth cloning. */
const DECODER_FIELDS = [
  'Compression',
  'Predictor',
  'TileWidth',
  'TileLength',
  'ImageWidth',
  'ImageLength',
  'RowsPerStrip',
  'BitsPerSample',
  'SampleFormat',
  'SamplesPerPixel',
  'PlanarConfiguration',
  'JPEGTables',
  'LercParameters',
] as const;

interface Job {
  resolve: (buf: ArrayBuffer) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

/**
 * Decodes TIFF blocks on worker threads (native zlib inside each worker). It has geotiff.js's
 * `Pool#decode` shape, so it can stand in wherever a decoder is accepted. Idle workers are
 * unref'd: an unused pool never keeps the process alive.
 */
export class DecodePool implements BlockDecoder {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #dirs = new WeakMap<object, Record<string, unknown>>();
  #nextId = 0;
  #destroyed = false;

  /** `size` workers (default: one per available core). */
  constructor(size = availableParallelism()) {
    this.size = Math.max(1, Math.floor(size));
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./decode-worker.mjs', import.meta.url));
    const slot: Slot = { worker, jobs: new Map() };
    worker.unref();
    worker.on('message', (msg: { id: number; decoded?: ArrayBuffer; error?: string }) => {
      const job = slot.jobs.get(msg.id);
      if (!job) return;
      slot.jobs.delete(msg.id);
      if (slot.jobs.size === 0) worker.unref();
      if (msg.error !== undefined) job.reject(new Error(msg.error));
      else job.resolve(msg.decoded!);
    });
    const fail = (err: Error) => {
      for (const job of slot.jobs.values()) job.reject(err);
      slot.jobs.clear();
      const i = this.#slots.indexOf(slot);
      if (i >= 0 && !this.#destroyed) this.#slots[i] = this.#spawn();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.#destroyed) fail(new Error(`decode worker exited with code ${code}`));
    });
    return slot;
  }

  #slim(fileDirectory: Record<string, unknown>): Record<string, unknown> {
    let dir = this.#dirs.get(fileDirectory);
    if (!dir) {
      dir = {};
      for (const k of DECODER_FIELDS) if (fileDirectory[k] !== undefined) dir[k] = fileDirectory[k];
      // BaseDecoder only tests StripOffsets for presence (strips vs tiles).
      if (fileDirectory.StripOffsets) dir.StripOffsets = [];
      this.#dirs.set(fileDirectory, dir);
    }
    return dir;
  }

  /** Decode one compressed block; `buffer` is transferred to the worker (detached here). */
  decode(fileDirectory: unknown, buffer: ArrayBuffer): Promise<ArrayBuffer> {
    if (this.#destroyed) return Promise.reject(new Error('decode pool destroyed'));
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.jobs.size < slot.jobs.size) slot = s;
    const id = this.#nextId++;
    const dir = this.#slim(fileDirectory as Record<string, unknown>);
    return new Promise<ArrayBuffer>((resolve, reject) => {
      if (slot.jobs.size === 0) slot.worker.ref();
      slot.jobs.set(id, { resolve, reject });
      slot.worker.postMessage({ id, fileDirectory: dir, buffer }, [buffer]);
    });
  }

  /** Stop the workers; pending decodes are rejected. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const err = new Error('decode pool destroyed');
    await Promise.all(
      this.#slots.map(async (s) => {
        for (const job of s.jobs.values()) job.reject(err);
        s.jobs.clear();
        await s.worker.terminate();
      }),
    );
  }
}
