import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';

/**
 * A static file server with HTTP Range support for tests, bound to 127.0.0.1 on a free port,
 * with switches that make it misbehave the way real object stores do, and counters of what
 * it served.
 */
export interface RangeServer {
  /** Base URL without a trailing slash: `${url}/real/x.tif` serves `<root>/real/x.tif`. */
  readonly url: string;
  /** Requests received (including failed and hanging ones) and body bytes sent. */
  readonly requests: number;
  readonly bytes: number;
  /** Every request: path, Range header and the status answered (0 while hanging). */
  readonly log: { path: string; range: string | undefined; status: number }[];
  /** Answer 404 to everything. */
  notFound: boolean;
  /** Never answer (the socket stays open) — for timeouts. */
  hang: boolean;
  /** Answer 200 with the whole file, as servers without Range support do. */
  ignoreRange: boolean;
  /** Answer the next `n` requests with `status` (default 500), then behave again. */
  failNext(n: number, status?: number): void;
  /** Switches off, counters and log cleared. */
  reset(): void;
  close(): Promise<void>;
}

/** Serve `root` (read-only) until `close()`. */
export async function startRangeServer(root: string): Promise<RangeServer> {
  const base = resolve(root);
  let failures = 0;
  let failStatus = 500;
  const state = {
    requests: 0,
    bytes: 0,
    log: [] as { path: string; range: string | undefined; status: number }[],
    notFound: false,
    hang: false,
    ignoreRange: false,
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    state.requests++;
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    const entry = { path, range, status: 0 };
    state.log.push(entry);
    const answer = (status: number, headers: Record<string, string | number> = {}, body?: string) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    if (state.hang) return; // leave the request open
    if (failures > 0) {
      failures--;
      return answer(failStatus, { 'Content-Type': 'text/plain' }, 'induced failure');
    }
    const file = resolve(base, `.${path}`);
    if (state.notFound || (file !== base && !file.startsWith(base + sep))) return answer(404);
    let size: number;
    let etag: string;
    try {
      const st = await stat(file);
      if (!st.isFile()) return answer(404);
      size = st.size;
      etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    } catch {
      return answer(404);
    }
    const common = { 'Accept-Ranges': 'bytes', ETag: etag, 'Content-Type': 'image/tiff' };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = range && !state.ignoreRange ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(size - Number(m[2]), 0); // suffix range: the last n bytes
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(Number(m[2]), size - 1);
      }
      if (start >= size || start > end) {
        return answer(416, { ...common, 'Content-Range': `bytes */${size}` });
      }
      status = 206;
    }
    entry.status = status;
    const length = end - start + 1;
    res.writeHead(status, {
      ...common,
      'Content-Length': length,
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return res.end();
    const stream = createReadStream(file, { start, end });
    stream.on('data', (chunk) => {
      state.bytes += chunk.length;
    });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get bytes() {
      return state.bytes;
    },
    get log() {
      return state.log;
    },
    get notFound() {
      return state.notFound;
    },
    set notFound(v: boolean) {
      state.notFound = v;
    },
    get hang() {
      return state.hang;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
    get ignoreRange() {
      return state.ignoreRange;
    },
    set ignoreRange(v: boolean) {
      state.ignoreRange = v;
    },
    failNext(n: number, status = 500) {
      failures = n;
      failStatus = status;
    },
    reset() {
      failures = 0;
      Object.assign(state, {
        requests: 0,
        bytes: 0,
        log: [],
        notFound: false,
        hang: false,
        ignoreRange: false,
      });
    },
    async close() {
      // Hanging requests would keep close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
