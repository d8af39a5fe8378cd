/**
 * A small in-process LRU bounded by entries and by bytes (rendered tiles, open rasters), with
 * an optional time to live. Map iteration order is insertion order, so the first key is the
 * least recently used.
 */
export class Lru<V> {
  readonly #map = new Map<string, { v: V; size: number; expires: number }>();
  #bytes = 0;
  constructor(
    readonly maxEntries: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
    readonly onEvict: (v: V) => void = () => {},
    readonly ttlMs = Number.POSITIVE_INFINITY,
  ) {}
  get(k: string): V | undefined {
    const e = this.#map.get(k);
    if (!e) return undefined;
    this.#map.delete(k);
    if (e.expires <= Date.now()) {
      this.#bytes -= e.size;
      this.onEvict(e.v);
      return undefined;
    }
    this.#map.set(k, e);
    return e.v;
  }
  set(k: string, v: V, size = 0): void {
    const old = this.#map.get(k);
    if (old) {
      this.#map.delete(k);
      this.#bytes -= old.size;
    }
    this.#map.set(k, { v, size, expires: Date.now() + this.ttlMs });
    this.#bytes += size;
    while (this.#map.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const [oldest, e] = this.#map.entries().next().value as [string, { v: V; size: number }];
      this.#map.delete(oldest);
      this.#bytes -= e.size;
      this.onEvict(e.v);
    }
  }
  delete(k: string): void {
    const e = this.#map.get(k);
    if (!e) return;
    this.#map.delete(k);
    this.#bytes -= e.size;
  }
  clear(): void {
    for (const e of this.#map.values()) this.onEvict(e.v);
    this.#map.clear();
    this.#bytes = 0;
  }
  get size(): number {
    return this.#map.size;
  }
}
