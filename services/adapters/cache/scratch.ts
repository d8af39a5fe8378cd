/**
 * Reusable scratch buffers for hot paths that allocate and drop megabytes per call (a map
 * tile's source windows, warped bands, pixels and PNG rows: about 3 MB a tile). Each such
 * ArrayBuffer lives outside V8's heap, and their churn alone started a full garbage
 * collection every few tiles. Buffers are kept by capacity (powers of two, at least 4 KiB),
 * a few of each; `take` hands out a view of exactly the length asked for, `give` returns it.
 *
 * The contents of a taken buffer are whatever its last user left there: callers must write
 * every element they read. Give a buffer back only once nothing (a pending zlib or sharp
 * call, a cache) still holds a view of it.
 */
export class ScratchPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers now in the pool (a second `give` of one is ignored, not handed out twice). */
  readonly #pooled = new WeakSet<ArrayBuffer>();
  /** Buffers this pool allocated (only those are taken back). */
  readonly #ours = new WeakSet<ArrayBuffer>();

  constructor(
    /** Buffers kept per capacity. */
    readonly perSize = 8,
  ) {}

  #buffer(bytes: number): ArrayBuffer {
    const cap = Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
    const buf = this.#free.get(cap)?.pop();
    if (buf) {
      this.#pooled.delete(buf);
      return buf;
    }
    const fresh = new ArrayBuffer(cap);
    this.#ours.add(fresh);
    return fresh;
  }

  float32(length: number): Float32Array {
    return new Float32Array(this.#buffer(length * 4), 0, length);
  }

  uint8(length: number): Uint8Array {
    return new Uint8Array(this.#buffer(length), 0, length);
  }

  /** Return views taken from this pool (other arrays are ignored). */
  give(...views: ArrayBufferView[]): void {
    for (const v of views) {
      const buf = v.buffer;
      if (!(buf instanceof ArrayBuffer) || !this.#ours.has(buf) || this.#pooled.has(buf)) continue;
      const cap = buf.byteLength;
      let list = this.#free.get(cap);
      if (!list) {
        list = [];
        this.#free.set(cap, list);
      }
      if (list.length >= this.perSize) continue;
      list.push(buf);
      this.#pooled.add(buf);
    }
  }

  /** Bytes held for reuse. */
  get bytes(): number {
    let n = 0;
    for (const [cap, list] of this.#free) n += cap * list.length;
    return n;
  }

  clear(): void {
    this.#free.clear();
  }
}

/** The process's pool for map tile renders (windows, warped bands, pixels, PNG rows). */
export const tileScratch = new ScratchPool(8);
