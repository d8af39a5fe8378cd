import { describe, expect, it } from 'vitest';
import { ScratchPool } from '../../services/adapters/cache/scratch.ts';

describe('ScratchPool', () => {
  it('hands out views of exactly the length asked for, and reuses a given-back buffer', () => {
    const pool = new ScratchPool(2);
    const a = pool.float32(1000);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(1000);
    expect(a.buffer.byteLength).toBe(4096); // capacity: a power of two, at least 4 KiB
    const buf = a.buffer;
    pool.give(a);
    expect(pool.bytes).toBe(4096);
    const b = pool.uint8(3000); // same capacity class: the same buffer again
    expect(b.buffer).toBe(buf);
    expect(b.length).toBe(3000);
    expect(pool.bytes).toBe(0);
  });

  it('never hands one buffer to two users: a second give is ignored', () => {
    const pool = new ScratchPool(4);
    const a = pool.float32(5000);
    pool.give(a);
    pool.give(a);
    const x = pool.float32(5000);
    const y = pool.float32(5000);
    expect(x.buffer).toBe(a.buffer);
    expect(y.buffer).not.toBe(a.buffer);
  });

  it('ignores arrays it did not allocate, even of a capacity it keeps', () => {
    const pool = new ScratchPool(4);
    const foreign = new Float32Array(256 * 256); // 256 KiB: a power of two
    pool.give(foreign);
    expect(pool.bytes).toBe(0);
    expect(pool.float32(256 * 256).buffer).not.toBe(foreign.buffer);
  });

  it('keeps at most perSize buffers of a capacity', () => {
    const pool = new ScratchPool(2);
    const arrays = [pool.uint8(10_000), pool.uint8(10_000), pool.uint8(10_000)];
    pool.give(...arrays);
    expect(pool.bytes).toBe(2 * 16384);
    pool.clear();
    expect(pool.bytes).toBe(0);
  });
});
