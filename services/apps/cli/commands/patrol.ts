import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { getRun, listRuns, type RunRow } from '../../../adapters/postgis/patrol-store.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import { patrolQueue } from '../../../adapters/redis/patrol-queue.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { cancelPatrol, planPatrol, resumePatrol } from '../../../usecases/patrol.ts';
import { startPatrolWorker } from '../../worker/patrol-worker.ts';

const window = (v: string) => {
  const m = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(v);
  if (!m) throw new InvalidArgumentError('a window FROM/TO, e.g. 2024-06-01/2024-06-30');
  return { from: m[1]!, to: m[2]! };
};
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function bar(run: RunRow, width = 30): string {
  const finished = run.tilesDone + run.tilesFailed;
  const filled = run.tilesTotal ? Math.round((finished / run.tilesTotal) * width) : 0;
  const eta = run.etaSeconds === null ? '' : ` ETA ${run.etaSeconds} s`;
  const failed = run.tilesFailed ? `, ${run.tilesFailed} failed` : '';
  return `巡查 patrol [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${run.tilesTotal} tiles${failed}, ${run.clueCount} clues ${run.status}${eta}`;
}

/** Follow a run until it ends, drawing a progress bar (a line per change when not a TTY). */
export async function followRun(
  pool: ReturnType<typeof createPool>,
  runId: string,
  opts: { out?: NodeJS.WriteStream; workers?: () => Promise<number> } = {},
): Promise<RunRow> {
  const out = opts.out ?? process.stdout;
  let last = '';
  let quietSince = Date.now();
  let warned = false;
  for (;;) {
    const run = (await getRun(pool, runId))!;
    const line = bar(run);
    // On a terminal the bar redraws in place; in a log, a line per finished tile only.
    const key = out.isTTY ? line : `${run.tilesDone}/${run.tilesFailed}/${run.status}`;
    if (key !== last) {
      out.write(out.isTTY ? `\r${line}   ` : `${line}\n`);
      last = key;
      quietSince = Date.now();
    }
    if (['done', 'failed', 'cancelled'].includes(run.status)) {
      if (out.isTTY) out.write('\n');
      return run;
    }
    if (!warned && Date.now() - quietSince > 15_000 && opts.workers && (await opts.workers()) === 0) {
      out.write('\n(no worker is running: start one with `npx skypatrol worker`, or pass --with-worker)\n');
      warned = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function summary(run: RunRow): string {
  return [
    `run ${run.id}: ${run.status}`,
    `  tiles: ${run.tilesDone} done, ${run.tilesFailed} failed, ${run.tilesTotal} total`,
    `  巡查面积 patrolled: ${run.coveredKm2 === null ? '–' : `${run.coveredKm2.toFixed(1)} km² clear-observed`}`,
    `  线索 clues: ${run.clueCount}`,
  ].join('\n');
}

export function registerPatrolCommands(cli: Command, loadConfig: () => Config): void {
  const patrol = cli
    .command('patrol')
    .description('patrol an area: plan tile jobs on the queue, optionally wait with a progress bar')
    .option('--aoi <file|adcode>', 'GeoJSON file of the area, or a county adcode from the zoning layers')
    .option('--before <from/to>', 'before window, e.g. 2024-06-01/2024-06-30', window)
    .option('--after <from/to>', 'after window, e.g. 2025-06-01/2025-08-31', window)
    .option('--scenarios <ids>', 'comma-separated detector ids (default: all installed)', list)
    .option('--sensors <ids>', 'comma-separated collections, e.g. sentinel-2-l2a', list)
    .option('--name <name>', 'a name for the run')
    .option('--wait', 'follow the run to its end with a progress bar')
    .option('--with-worker', 'also process the tiles in this process (implies --wait)')
    .action(async (opts) => {
      if (!opts.aoi || !opts.before || !opts.after)
        throw new SkypatrolError('VALIDATION', 'patrol needs --aoi, --before and --after');
      const config = loadConfig();
      const pool = createPool(config.databaseUrl, 6);
      const queue = patrolQueue(config);
      const worker = opts.withWorker
        ? startPatrolWorker(config, pool, {
            log: (l) => {
              if (l.msg === 'tile failed' && l.final)
                process.stderr.write(`\ntile ${l.tile} failed: ${l.error}\n`);
            },
          })
        : null;
      try {
        let area: { aoi: unknown } | { county: string };
        if (/^\d{6}$/.test(opts.aoi)) area = { county: opts.aoi };
        else {
          const text = await readFile(opts.aoi, 'utf8').catch((err: NodeJS.ErrnoException) => {
            throw new SkypatrolError(
              'VALIDATION',
              `cannot read --aoi ${opts.aoi}: ${err.code ?? err.message}`,
            );
          });
          let doc: unknown;
          try {
            doc = JSON.parse(text);
          } catch (err) {
            throw new SkypatrolError(
              'VALIDATION',
              `--aoi ${opts.aoi} is not JSON: ${(err as Error).message}`,
            );
          }
          area = { aoi: doc };
        }
        const run = await planPatrol(
          { pool, queue, detectorsDir: config.detectorsDir, maxTiles: config.maxTiles },
          {
            ...area,
            before: opts.before,
            after: opts.after,
            ...(opts.scenarios ? { scenarios: opts.scenarios } : {}),
            ...(opts.sensors ? { sensors: opts.sensors } : {}),
            ...(opts.name ? { name: opts.name } : {}),
            actor: process.env.USER ? `cli:${process.env.USER}` : 'cli',
          },
        );
        console.log(`run ${run.id}: ${run.tilesTotal} tiles queued (${run.scenarios.join(', ')})`);
        if (run.warning) process.stderr.write(`skypatrol: warning: ${run.warning}\n`);
        if (opts.wait || opts.withWorker) {
          const end = await followRun(pool, run.id, { workers: () => queue.getWorkersCount() });
          console.log(summary(end));
          if (end.status !== 'done') process.exitCode = 1;
        }
      } finally {
        await worker?.close();
        await queue.close();
        await pool.end();
      }
    });

  const withRun = (
    fn: (config: Config, pool: ReturnType<typeof createPool>, id: string) => Promise<void>,
  ) => {
    return async (id: string) => {
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new SkypatrolError('VALIDATION', `not a run id: ${id}`);
      const config = loadConfig();
      const pool = createPool(config.databaseUrl, 2);
      try {
        await fn(config, pool, id);
      } finally {
        await pool.end();
      }
    };
  };
  patrol
    .command('status <run-id>')
    .description('a run with progress, patrolled area and clues')
    .action(
      withRun(async (_c, pool, id) => {
        const run = await getRun(pool, id);
        if (!run) throw new SkypatrolError('NOT_FOUND', `no patrol run ${id}`);
        console.log(summary(run));
      }),
    );
  patrol
    .command('list')
    .description('patrol runs, newest first')
    .action(async () => {
      const config = loadConfig();
      const pool = createPool(config.databaseUrl, 2);
      try {
        const { runs } = await listRuns(pool, { limit: 50, offset: 0 });
        for (const r of runs)
          console.log(
            `${r.id}  ${r.status.padEnd(9)} ${String(r.tilesDone).padStart(5)}/${r.tilesTotal} tiles  ${r.clueCount} clues  ${r.createdAt.slice(0, 16)}  ${r.name ?? ''}`,
          );
      } finally {
        await pool.end();
      }
    });
  for (const action of ['cancel', 'resume'] as const)
    patrol
      .command(`${action} <run-id>`)
      .description(
        action === 'cancel' ? 'stop a queued or running run' : 'take a cancelled or failed run up again',
      )
      .action(
        withRun(async (config, pool, id) => {
          const queue = patrolQueue(config);
          try {
            const run =
              action === 'cancel' ? await cancelPatrol(pool, queue, id) : await resumePatrol(pool, queue, id);
            console.log(summary(run));
          } finally {
            await queue.close();
          }
        }),
      );
}
