import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { notifierDeps, runDigest, runNotifications, startNotifier } from '../../../usecases/notify.ts';

/** `notify run [--once] [--interval s]`: deliver new high-priority clue notifications. */
export async function notifyRunCommand(
  config: Config,
  opts: { once?: boolean; interval?: number },
): Promise<void> {
  const pool = createPool(config.databaseUrl, 2);
  if (opts.once) {
    const deps = notifierDeps(config, pool);
    try {
      const r = await runNotifications(deps);
      console.log(
        `notifications: ${r.enqueued} new, ${r.sent} sent, ${r.failed} failed (will retry), ${r.gaveUp} given up`,
      );
    } finally {
      deps.mailer?.close();
      await pool.end();
    }
    return;
  }
  const handle = startNotifier(config, pool, {
    ...(opts.interval ? { intervalSeconds: opts.interval } : {}),
    onPass: ({ notify: n, digest: d }) => {
      if (n.enqueued || n.sent || n.failed || n.gaveUp || d.sent || d.failed)
        console.log(
          `notifications: ${n.enqueued} new, ${n.sent} sent, ${n.failed} failed, ${n.gaveUp} given up; digest ${d.day}: ${d.sent} sent, ${d.failed} failed`,
        );
    },
    onError: (err) => console.error(`notifier: ${(err as Error).message}`),
  });
  console.log(
    `notifier running every ${opts.interval ?? 30} s${config.smtpUrl ? '' : ' (no SKYPATROL_SMTP_URL: e-mail is not sent)'}`,
  );
  const stop = async () => {
    await handle.stop();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** `notify digest [--day YYYY-MM-DD]`: send the daily digests of a day (default yesterday, China time). */
export async function notifyDigestCommand(config: Config, opts: { day?: string }): Promise<void> {
  if (
    opts.day !== undefined &&
    (!/^\d{4}-\d{2}-\d{2}$/.test(opts.day) ||
      Number.isNaN(Date.parse(`${opts.day}T00:00:00Z`)) ||
      new Date(`${opts.day}T00:00:00Z`).toISOString().slice(0, 10) !== opts.day)
  )
    throw new SkypatrolError('VALIDATION', `--day must be a calendar date YYYY-MM-DD; got "${opts.day}"`);
  const pool = createPool(config.databaseUrl, 2);
  const deps = notifierDeps(config, pool);
  try {
    const r = await runDigest(deps, opts.day ? { day: opts.day } : {});
    console.log(
      `digest ${r.day}: ${r.sent} sent, ${r.empty} with no new clues, ${r.failed} failed (will retry), ${r.gaveUp} given up`,
    );
  } finally {
    deps.mailer?.close();
    await pool.end();
  }
}

/** Register `notify run` and `notify digest` on the CLI (main.ts). */
export function registerNotifyCommands(cli: import('commander').Command, loadConfig: () => Config): void {
  const notify = cli
    .command('notify')
    .description('notifications: webhooks and e-mail for new high-priority clues');
  notify
    .command('run')
    .description('deliver notifications of new high-priority clues (loop; --once for one pass)')
    .option('--once', 'one pass, then exit')
    .option('--interval <s>', 'seconds between passes', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 86400)
        throw new SkypatrolError('VALIDATION', `--interval must be 1–86400 seconds; got "${v}"`);
      return n;
    })
    .action(async (opts) => notifyRunCommand(loadConfig(), opts));
  notify
    .command('digest')
    .description('send the daily digests of a day (default: yesterday, China time)')
    .option('--day <date>', 'YYYY-MM-DD')
    .action(async (opts) => notifyDigestCommand(loadConfig(), opts));
}
