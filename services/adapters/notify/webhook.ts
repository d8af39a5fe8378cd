import { createHmac } from 'node:crypto';

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

/** POST `payload` to `url`; a 2xx within `timeoutMs` is success, anything else a failure. */
export async function postWebhook(opts: {
  url: string;
  secret: string;
  event: string;
  deliveryId: string;
  payload: unknown;
  timeoutMs: number;
  now?: Date;
}): Promise<WebhookResult> {
  const body = JSON.stringify(opts.payload);
  const timestamp = String(Math.floor((opts.now ?? new Date()).getTime() / 1000));
  try {
    const res = await fetch(opts.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'skypatrol-notifier/1',
        [EVENT_HEADER]: opts.event,
        [DELIVERY_HEADER]: opts.deliveryId,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signWebhook(opts.secret, timestamp, body),
      },
      body,
    });
    // The answer's body is not needed; read a little for the record, then drop the rest.
    const text = (await res.text().catch(() => '')).slice(0, 200);
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, detail: `HTTP ${res.status}${text && !ok ? `: ${text}` : ''}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const reason =
      e.name === 'TimeoutError'
        ? `no answer within ${opts.timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, status: 0, detail: `not delivered: ${reason}` };
  }
}
