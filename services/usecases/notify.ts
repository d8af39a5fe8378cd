import type pg from 'pg';
import { createMailer, type Mail, type Mailer } from '../adapters/notify/smtp.ts';
import { postWebhook } from '../adapters/notify/webhook.ts';
import {
  type AttemptOutcome,
  type Channel,
  claimDueDeliveries,
  claimDueDigests,
  enqueueDeliveries,
  ensureDigests,
  markDigestEmpty,
  recordAttempt,
  setDigestClueCount,
} from '../adapters/postgis/notify-store.ts';
import { type Config, parseNetList } from '../core/config.ts';
import {
  clueMail,
  clueWebhookPayload,
  digestMail,
  digestWebhookPayload,
  EVENT_CLUE,
  EVENT_DIGEST,
} from './notify-messages.ts';

/**
 * The notifier: finds new clues at or above each subscription's priority in its user's
 * counties, hands each (subscription, clue) to the outbox once, sends what is due by webhook
 * or e-mail, records every attempt, and retries failures with exponential back-off until
 * `maxAttempts`. Daily digests go the same way, one per (subscription, day).
 */

export const DEFAULT_MAIL_FROM = '天巡 Skypatrol <skypatrol@localhost>';

export interface NotifierDeps {
  pool: pg.Pool;
  /** null: e-mail subscriptions fail (and are retried) until SMTP is configured. */
  mailer: Mailer | null;
  /**
   * Networks webhooks may reach although loopback, link-local or private (config
   * webhookAllowNets). Unset: SKYPATROL_WEBHOOK_ALLOW_NETS of the environment, else none.
   */
  webhookAllowNets?: readonly string[];
}

/** The notifier's dependencies as the configuration says (mailer, webhook allow-list). */
export function notifierDeps(config: Config, pool: pg.Pool): NotifierDeps {
  return { pool, mailer: mailerFor(config), webhookAllowNets: config.webhookAllowNets };
}

function allowNetsOf(deps: NotifierDeps): readonly string[] {
  return deps.webhookAllowNets ?? parseNetList(process.env.SKYPATROL_WEBHOOK_ALLOW_NETS) ?? [];
}

export interface NotifyOptions {
  /** The clock (tests move it forward to reach retries). */
  now?: Date;
  /** Clues created this many hours back are considered (default 72). */
  lookbackHours?: number;
  /** Deliveries claimed per round (default 50); rounds go on until nothing is due. */
  batch?: number;
  /** Attempts before a delivery is given up (default 8). */
  maxAttempts?: number;
  /** First retry after this many seconds, doubling each time, at most 6 hours (default 60). */
  backoffSeconds?: number;
  /** Webhook answer time limit (default 10 s). */
  webhookTimeoutMs?: number;
}

export interface NotifyReport {
  enqueued: number;
  sent: number;
  failed: number;
  gaveUp: number;
}

const LEASE_SECONDS = 120;
const MAX_BACKOFF_SECONDS = 6 * 3600;

/** Seconds to wait after failed attempt number `attempt` (1-based). */
export function backoffAfter(attempt: number, baseSeconds = 60): number {
  return Math.min(MAX_BACKOFF_SECONDS, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

async function deliver(
  deps: NotifierDeps,
  channel: Channel,
  target: string,
  secret: string | null,
  webhook: { event: string; id: string; payload: unknown },
  mail: Mail,
  opts: { timeoutMs: number; now: Date },
): Promise<{ ok: boolean; detail: string }> {
  if (channel === 'webhook') {
    if (!secret) return { ok: false, detail: 'webhook subscription has no secret' };
    return postWebhook({
      url: target,
      secret,
      event: webhook.event,
      deliveryId: webhook.id,
      payload: webhook.payload,
      timeoutMs: opts.timeoutMs,
      now: opts.now,
      allowNets: allowNetsOf(deps),
    });
  }
  if (!deps.mailer) return { ok: false, detail: 'SKYPATROL_SMTP_URL is not set: e-mail cannot be sent' };
  return deps.mailer.send(mail);
}

function outcomeOf(
  r: { ok: boolean; detail: string },
  attempts: number,
  now: Date,
  maxAttempts: number,
  backoffSeconds: number,
): AttemptOutcome {
  if (r.ok) return { ok: true, response: r.detail };
  const retryAt =
    attempts >= maxAttempts ? null : new Date(now.getTime() + backoffAfter(attempts, backoffSeconds) * 1000);
  return { ok: false, error: r.detail, retryAt };
}

function tally(report: NotifyReport, o: AttemptOutcome): void {
  if (o.ok) report.sent++;
  else if (o.retryAt) report.failed++;
  else report.gaveUp++;
}

/** One pass: enqueue new matching clues, then send everything due. */
export async function runNotifications(deps: NotifierDeps, opts: NotifyOptions = {}): Promise<NotifyReport> {
  const now = opts.now ?? new Date();
  const maxAttempts = opts.maxAttempts ?? 8;
  const backoff = opts.backoffSeconds ?? 60;
  const timeoutMs = opts.webhookTimeoutMs ?? 10_000;
  const report: NotifyReport = {
    enqueued: await enqueueDeliveries(deps.pool, opts.lookbackHours ?? 72),
    sent: 0,
    failed: 0,
    gaveUp: 0,
  };
  for (;;) {
    const batch = await claimDueDeliveries(deps.pool, {
      now,
      limit: opts.batch ?? 50,
      leaseSeconds: LEASE_SECONDS,
    });
    if (!batch.length) break;
    // The deliveries of a batch go out in parallel (different targets, each with a timeout).
    await Promise.all(
      batch.map(async (d) => {
        if (!d.stillMatches) {
          const o: AttemptOutcome = {
            ok: false,
            error:
              'not sent: the clue no longer matches (dismissed, priority lowered, or out of the user’s scope)',
            retryAt: null,
          };
          await recordAttempt(deps.pool, 'notify_deliveries', d.id, o);
          tally(report, o);
          return;
        }
        const r = await deliver(
          deps,
          d.subscription.channel,
          d.subscription.target,
          d.subscription.secret,
          {
            event: EVENT_CLUE,
            id: String(d.id),
            payload: clueWebhookPayload(d.id, d.subscription.id, d.clue, now),
          },
          clueMail(d.subscription.target, d.user, d.clue, d.id),
          { timeoutMs, now },
        );
        const o = outcomeOf(r, d.attempts, now, maxAttempts, backoff);
        await recordAttempt(deps.pool, 'notify_deliveries', d.id, o);
        tally(report, o);
      }),
    );
  }
  return report;
}

/** The calendar day in China (UTC+8) of an instant, as YYYY-MM-DD. */
export function chinaDay(at: Date, offsetDays = 0): string {
  return new Date(at.getTime() + 8 * 3600_000 + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

export interface DigestReport extends NotifyReport {
  day: string;
  empty: number;
}

/**
 * Daily digests of `day` (China time; default yesterday): one per daily subscription, listing
 * every clue created that day in the user's counties and scenarios (any priority, highest
 * first). Idempotent per (subscription, day); an empty day sends nothing.
 */
export async function runDigest(
  deps: NotifierDeps,
  opts: NotifyOptions & { day?: string } = {},
): Promise<DigestReport> {
  const now = opts.now ?? new Date();
  const day = opts.day ?? chinaDay(now, -1);
  const maxAttempts = opts.maxAttempts ?? 8;
  const backoff = opts.backoffSeconds ?? 60;
  const timeoutMs = opts.webhookTimeoutMs ?? 10_000;
  const report: DigestReport = {
    day,
    enqueued: await ensureDigests(deps.pool, day),
    sent: 0,
    failed: 0,
    gaveUp: 0,
    empty: 0,
  };
  for (;;) {
    const batch = await claimDueDigests(deps.pool, {
      day,
      now,
      limit: opts.batch ?? 20,
      leaseSeconds: LEASE_SECONDS,
    });
    if (!batch.length) break;
    for (const g of batch) {
      if (g.clues.length === 0) {
        await markDigestEmpty(deps.pool, g.id);
        report.empty++;
        continue;
      }
      await setDigestClueCount(deps.pool, g.id, g.clues.length);
      const r = await deliver(
        deps,
        g.subscription.channel,
        g.subscription.target,
        g.subscription.secret,
        {
          event: EVENT_DIGEST,
          id: `digest-${g.id}`,
          payload: digestWebhookPayload(g.id, g.subscription.id, g.day, g.clues, now),
        },
        digestMail(g.subscription.target, g.user, g.day, g.clues, g.id),
        { timeoutMs, now },
      );
      const o = outcomeOf(r, g.attempts, now, maxAttempts, backoff);
      await recordAttempt(deps.pool, 'notify_digests', g.id, o);
      tally(report, o);
    }
  }
  return report;
}

/** The mailer the configuration asks for (null without SKYPATROL_SMTP_URL). */
export function mailerFor(config: Config): Mailer | null {
  return config.smtpUrl ? createMailer(config.smtpUrl, config.mailFrom ?? DEFAULT_MAIL_FROM) : null;
}

export interface NotifierHandle {
  /** Finish the current pass, then stop (closes the mailer; the pool stays the caller's). */
  stop(): Promise<void>;
}

/**
 * Run the notifier every `intervalSeconds` (default 30) until stopped: new-clue deliveries,
 * retries, and yesterday's digests (idempotent, so every pass may try). Errors of one pass are
 * reported to `onError` and the loop goes on.
 */
export function startNotifier(
  config: Config,
  pool: pg.Pool,
  opts: {
    intervalSeconds?: number;
    onPass?: (r: { notify: NotifyReport; digest: DigestReport }) => void;
    onError?: (err: unknown) => void;
  } = {},
): NotifierHandle {
  const deps = notifierDeps(config, pool);
  const interval = Math.max(1, opts.intervalSeconds ?? 30) * 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const pass = async () => {
    try {
      const notify = await runNotifications(deps);
      const digest = await runDigest(deps);
      opts.onPass?.({ notify, digest });
    } catch (err) {
      (opts.onError ?? ((e) => console.error('notifier:', (e as Error).message)))(err);
    }
  };
  const tick = () => {
    current = pass().finally(() => {
      if (!stopped) timer = setTimeout(tick, interval);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
      deps.mailer?.close();
    },
  };
}
