/**
 * A bounded LRU cache of raw file bytes in fixed-size, aligned blocks, shared by every raster
 * source that is given it. Remote COG reads are latency-bound, so re-reading a window (or a
 * neighbouring one that shares blocks) must not go back to the network.
 */

/** Counters for tests, benchmarks and logs. `hits`/`misses` count blocks, not calls. */
export interface BlockCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Block requests answered by a fetch already in flight for another caller. */
  joined: number;
  bytes: number;
  entries: number;
  maxBytes: number;
  blockSize: number;
}

/** Reads bytes [offset, offset+length) of one file; may return fewer at the end of the file. */
export type RangeFetcher = (offset: number, length: number) => Promise<Uint8Array>;

const EMPTY = new Uint8Array(0);

export class BlockCache {
  readonly maxBytes: number;
  readonly blockSize: number;
  readonly #entries = new Map<string, Uint8Array>();
  readonly #inflight = new Map<string, Promise<Uint8Array>>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #joined = 0;
  #evictions = 0;

  /** `maxBytes` bounds the cached bytes (default 64 MiB); `blockSize` is the fetch unit (64 KiB). */
  constructor(opts: { maxBytes?: number; blockSize?: number } = {}) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.blockSize = opts.blockSize ?? 64 * 1024;
    if (!(this.blockSize >= 512 && Number.isInteger(this.blockSize))) {
      throw new RangeError('blockSize must be an integer ≥ 512');
    }
    if (!(this.maxBytes >= 0)) throw new RangeError('maxBytes must be ≥ 0');
  }

  stats(): BlockCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      joined: this.#joined,
      bytes: this.#bytes,
      entries: this.#entries.size,
      maxBytes: this.maxBytes,
      blockSize: this.blockSize,
    };
  }

  /** Drop every block and reset the counters. */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#hits = 0;
    this.#misses = 0;
    this.#joined = 0;
    this.#evictions = 0;
  }

  /**
   * Store block `index` of `fileKey` (bytes already fetched elsewhere, e.g. the header read
   * that told us the file's size and version).
   */
  put(fileKey: string, index: number, data: Uint8Array): void {
    const key = `${fileKey}#${index}`;
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.byteLength;
      this.#entries.delete(key);
    }
    if (data.byteLength === 0 || data.byteLength > this.maxBytes) return;
    this.#entries.set(key, data);
    this.#bytes += data.byteLength;
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      const evicted = this.#entries.get(oldest.value)!;
      this.#entries.delete(oldest.value);
      this.#bytes -= evicted.byteLength;
      this.#evictions++;
    }
  }

  /**
   * Bytes [offset, offset+length) of `fileKey` (clamped to `size` when known), taken from
   * cached blocks; missing blocks are fetched with `fetch`, adjacent ones in one request,
   * and a block another caller is already fetching is awaited, not fetched twice. The result
   * is a fresh copy the caller may keep or transfer.
   */
  async read(
    fileKey: string,
    offset: number,
    length: number,
    fetch: RangeFetcher,
    size: number | null,
  ): Promise<Uint8Array> {
    const end = size === null ? offset + length : Math.min(offset + length, size);
    if (!(end > offset)) return EMPTY;
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    const blocks: (Uint8Array | Promise<Uint8Array>)[] = [];
    let runStart = -1;
    const flushRun = (runEnd: number) => {
      if (runStart < 0) return;
      const start = runStart;
      const run = fetch(start * bs, (runEnd - start + 1) * bs);
      for (let id = start; id <= runEnd; id++) {
        const key = `${fileKey}#${id}`;
        const p = run.then((data) => {
          // A copy, so that a kept block does not pin the whole run's buffer.
          const block = runEnd === start ? data : data.slice((id - start) * bs, (id - start + 1) * bs);
          this.put(fileKey, id, block);
          return block;
        });
        this.#inflight.set(key, p);
        // Remove the in-flight marker either way; callers see the rejection through `p`.
        p.then(
          () => this.#inflight.delete(key),
          () => this.#inflight.delete(key),
        );
        blocks[id - first] = p;
      }
      runStart = -1;
    };
    for (let id = first; id <= last; id++) {
      const key = `${fileKey}#${id}`;
      const cached = this.#entries.get(key);
      if (cached) {
        flushRun(id - 1);
        // Re-insert to mark as most recently used.
        this.#entries.delete(key);
        this.#entries.set(key, cached);
        this.#hits++;
        blocks[id - first] = cached;
        continue;
      }
      const pending = this.#inflight.get(key);
      if (pending) {
        flushRun(id - 1);
        this.#joined++;
        blocks[id - first] = pending;
        continue;
      }
      this.#misses++;
      if (runStart < 0) runStart = id;
    }
    flushRun(last);

    const resolved = await Promise.all(blocks);
    const out = new Uint8Array(end - offset);
    let filled = 0;
    for (let i = 0; i < resolved.length; i++) {
      const block = resolved[i]!;
      const blockStart = (first + i) * bs;
      const from = Math.max(offset - blockStart, 0);
      const to = Math.min(end - blockStart, block.byteLength);
      if (to <= from) break; // end of file reached inside this block
      out.set(block.subarray(from, to), blockStart + from - offset);
      filled = blockStart + to - offset;
      if (block.byteLength < bs) break;
    }
    return filled === out.byteLength ? out : out.subarray(0, filled);
  }
}

let shared: BlockCache | undefined;

/** The process-wide cache HTTP sources use when none is passed (64 MiB, 64 KiB blocks). */
export function defaultBlockCache(): BlockCache {
  shared ??= new BlockCache();
  return shared;
}

/**
 * A bounded LRU of decoded raster blocks (decompressed, predictor undone, native byte order),
 * shared by the sources given it — GDAL's block cache, in short. Neighbouring map tiles and
 * the bands of one tile read overlapping windows: a 512 × 512 COG block of 10 m pixels spans
 * about nine z14 tiles, and inflating it is most of a tile's cost. Concurrent requests for one
 * block share one decode. Cached buffers are shared: callers must not modify them.
 */
export class DecodedBlockCache {
  readonly maxBytes: number;
  readonly #entries = new Map<string, ArrayBuffer>();
  readonly #inflight = new Map<string, Promise<ArrayBuffer>>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  /** `maxBytes` bounds the decoded bytes kept (default 128 MiB). */
  constructor(opts: { maxBytes?: number } = {}) {
    this.maxBytes = opts.maxBytes ?? 128 * 1024 * 1024;
    if (!(this.maxBytes >= 0)) throw new RangeError('maxBytes must be ≥ 0');
  }

  stats(): { hits: number; misses: number; bytes: number; entries: number; maxBytes: number } {
    return {
      hits: this.#hits,
      misses: this.#misses,
      bytes: this.#bytes,
      entries: this.#entries.size,
      maxBytes: this.maxBytes,
    };
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#hits = 0;
    this.#misses = 0;
  }

  /** The block under `key`, decoded by `decode` unless cached or being decoded. */
  get(key: string, decode: () => Promise<ArrayBuffer>): Promise<ArrayBuffer> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      this.#hits++;
      return Promise.resolve(hit);
    }
    const pending = this.#inflight.get(key);
    if (pending) {
      this.#hits++;
      return pending;
    }
    this.#misses++;
    const p = decode().then(
      (buf) => {
        this.#inflight.delete(key);
        this.#put(key, buf);
        return buf;
      },
      (err: unknown) => {
        this.#inflight.delete(key);
        throw err;
      },
    );
    this.#inflight.set(key, p);
    return p;
  }

  #put(key: string, buf: ArrayBuffer): void {
    if (buf.byteLength === 0 || buf.byteLength > this.maxBytes) return;
    const old = this.#entries.get(key);
    if (old) this.#bytes -= old.byteLength;
    this.#entries.delete(key);
    this.#entries.set(key, buf);
    this.#bytes += buf.byteLength;
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#bytes -= this.#entries.get(oldest.value)!.byteLength;
      this.#entries.delete(oldest.value);
    }
  }
}
