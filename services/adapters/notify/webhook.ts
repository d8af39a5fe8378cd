import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Webhook delivery: one JSON POST with an HMAC-SHA256 signature. The receiver recomputes
 * `sha256=` + hex(HMAC(secret, timestamp + "." + body)) and compares it with
 * `x-skypatrol-signature` (constant time), and may refuse old timestamps (replays).
 */

export const SIGNATURE_HEADER = 'x-skypatrol-signature';
export const TIMESTAMP_HEADER = 'x-skypatrol-timestamp';
export const EVENT_HEADER = 'x-skypatrol-event';
export const DELIVERY_HEADER = 'x-skypatrol-delivery';

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookResult {
  ok: boolean;
  /** HTTP status, or 0 when no answer came (refused, timeout, DNS). */
  status: number;
  /** Short account for the delivery record. */
  detail: string;
}

// ---------------------------------------------------------------------------------------
// SSRF guard. A webhook target is chosen by a user, and the notifier POSTs clue data to it
// from inside the network: it must not reach the host itself, the cloud metadata service or
// the private network unless the operator allows those addresses
// (SKYPATROL_WEBHOOK_ALLOW_NETS). Checked at registration and again at every delivery, on the
// addresses the name resolves to then; the connection goes to the address that was checked
// (no second lookup a rebinding DNS server could answer differently). Redirects are never
// followed, so a public target cannot bounce the POST inside either.

/** Address ranges no webhook may reach unless allowed: [network, prefix, what it is]. */
const REFUSED_RANGES: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', '"this" network'],
  ['10.0.0.0', 8, 'ipv4', 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'ipv4', 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'ipv4', 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'unique local (ULA)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

/** Networks as "a.b.c.d/n" or "x:y::/n" (a bare address is /32 or /128) → a BlockList. */
export function allowList(nets: readonly string[]): BlockList {
  const list = new BlockList();
  for (const net of nets) {
    const [addr = '', bits] = net.trim().split('/');
    const family = isIP(addr);
    if (!family) throw new Error(`"${net}" is not an IP network`);
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
      throw new Error(`"${net}" has a bad prefix length`);
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** Why an address may not be reached (the range it is in), or null when it may. */
export function refusedRange(address: string, allow: BlockList = new BlockList()): string | null {
  let addr = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // IPv4-mapped IPv6 (::ffff:127.0.0.1, ::ffff:7f00:1) is the IPv4 address it carries.
  const mapped = /^::ffff:(?:0:)?(.+)$/i.exec(addr);
  if (mapped) {
    const tail = mapped[1]!;
    if (isIP(tail) === 4) addr = tail;
    else {
      const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
      if (m) {
        const hi = Number.parseInt(m[1]!, 16);
        const lo = Number.parseInt(m[2]!, 16);
        addr = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
      }
    }
  }
  const family = isIP(addr);
  if (!family) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (allow.check(addr, type)) return null;
  for (const [net, prefix, t, what] of REFUSED_RANGES) {
    if (t !== type) continue;
    const one = new BlockList();
    one.addSubnet(net, prefix, t);
    if (one.check(addr, type)) return what;
  }
  return null;
}

/** A webhook target the guard refuses (400 WEBHOOK_TARGET_REFUSED at registration). */
export class WebhookTargetRefused extends Error {
  readonly code = 'WEBHOOK_TARGET_REFUSED';
}

const ALLOW_HINT = 'allow it with SKYPATROL_WEBHOOK_ALLOW_NETS if it is meant';

/**
 * The addresses a webhook URL may be delivered to: its scheme must be http(s) and every
 * address its host names (the literal one, or all DNS answers) outside the refused ranges or
 * inside `allow`. Throws WebhookTargetRefused; DNS failures are thrown as they come.
 */
export async function vetWebhookTarget(
  url: URL,
  allow: BlockList,
): Promise<{ address: string; family: 4 | 6 }[]> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WebhookTargetRefused(`webhook target must be http:// or https://; got ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addrs: { address: string; family: number }[] = literal
    ? [{ address: host, family: literal }]
    : await lookup(host, { all: true, verbatim: true });
  if (!addrs.length) throw new Error(`${host} has no address`);
  for (const a of addrs) {
    const why = refusedRange(a.address, allow);
    if (why)
      throw new WebhookTargetRefused(
        `webhook target ${url.host} ${literal ? 'is' : `resolves to ${a.address},`} a ${why} address; ${ALLOW_HINT}`,
      );
  }
  return addrs.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/**
 * POST `payload` to `url`; a 2xx within `timeoutMs` is success, anything else a failure.
 * The target is vetted first (see vetWebhookTarget) unless its addresses are in `allowNets`.
 */
export async function postWebhook(opts: {
  url: string;
  secret: string;
  event: string;
  deliveryId: string;
  payload: unknown;
  timeoutMs: number;
  now?: Date;
  /** Networks the guard lets through (SKYPATROL_WEBHOOK_ALLOW_NETS). */
  allowNets?: readonly string[];
}): Promise<WebhookResult> {
  const body = JSON.stringify(opts.payload);
  const timestamp = String(Math.floor((opts.now ?? new Date()).getTime() / 1000));
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    const url = new URL(opts.url);
    const [target] = await vetWebhookTarget(url, allowList(opts.allowNets ?? []));
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'skypatrol-notifier/1',
      [EVENT_HEADER]: opts.event,
      [DELIVERY_HEADER]: opts.deliveryId,
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: signWebhook(opts.secret, timestamp, body),
    };
    const res = await new Promise<{ status: number; text: string }>((ok, fail) => {
      const req = (url.protocol === 'https:' ? https : http).request(
        url,
        {
          method: 'POST',
          headers,
          signal,
          agent: false,
          // Connect to the address just vetted, whatever the name resolves to now (the Host
          // header and TLS name stay the URL's).
          lookup: (_host, o, cb) => {
            const done = cb as (...a: unknown[]) => void;
            if ((o as { all?: boolean }).all) done(null, [target!]);
            else done(null, target!.address, target!.family);
          },
        },
        (r) => {
          // The answer's body is not needed; keep a little for the record, drop the rest.
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (d: string) => {
            if (text.length < 200) text += d;
          });
          r.on('end', () => ok({ status: r.statusCode ?? 0, text: text.slice(0, 200) }));
          r.on('error', fail);
        },
      );
      req.on('error', fail);
      req.end(body);
    });
    // Redirects are answers, not followed: a 3xx is a failed delivery.
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, detail: `HTTP ${res.status}${res.text && !ok ? `: ${res.text}` : ''}` };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const reason =
      err instanceof WebhookTargetRefused
        ? `refused: ${e.message}`
        : signal.aborted || e.name === 'TimeoutError'
          ? `no answer within ${opts.timeoutMs} ms`
          : (e.code ?? e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, status: 0, detail: `not delivered: ${reason}` };
  }
}
