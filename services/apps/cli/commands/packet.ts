import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { CLUE_STATUSES } from '../../../domain/clues/status.ts';

/** The packet use case (pdfkit, sharp, fonts) loads only when a packet command runs. */
const usecase = () => import('../../../usecases/packet.ts');

function cliUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

function clueId(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1)
    throw new SkypatrolError('VALIDATION', `clue id must be a positive integer; got "${raw}"`);
  return n;
}

/** `packet <clue-id> --out <dir>`: the packet folder and its zip. */
export async function packetCommand(config: Config, id: string, opts: { out: string }): Promise<void> {
  const n = clueId(id);
  const { buildPacket, writePacket } = await usecase();
  const pool = createPool(config.databaseUrl, 2);
  try {
    const t0 = performance.now();
    const p = await buildPacket(pool, n, {
      detectorsDir: config.detectorsDir,
      publicUrl: config.publicUrl,
      generatedBy: cliUser(),
    });
    await mkdir(opts.out, { recursive: true });
    const w = await writePacket(p, opts.out);
    console.log(`packet of clue ${n}: ${w.dir} (${p.files.length} files) and ${w.zip}`);
    console.log(
      `custody ${p.manifest.custody?.recorded === 'at_detection' ? 'recorded at detection' : 'recorded at packet time'}; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    await pool.end();
  }
}

/** `packet batch --county <adcode> | --status … | --scenario … | --ids … --out <zip>` */
export async function packetBatchCommand(
  config: Config,
  opts: { county?: string; status?: string; scenario?: string; ids?: string; out: string },
): Promise<void> {
  if (opts.status && !(CLUE_STATUSES as readonly string[]).includes(opts.status))
    throw new SkypatrolError(
      'VALIDATION',
      `--status must be one of ${CLUE_STATUSES.join(', ')}; got "${opts.status}"`,
    );
  const ids = opts.ids?.split(',').map((s) => clueId(s.trim()));
  if (!opts.out.endsWith('.zip'))
    throw new SkypatrolError('VALIDATION', `--out must name a .zip file; got "${opts.out}"`);
  const { selectBatchClues, streamBatch } = await usecase();
  const pool = createPool(config.databaseUrl, 3);
  const out = resolve(opts.out);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const clues = await selectBatchClues(
      pool,
      {
        ...(opts.county ? { county: opts.county } : {}),
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.scenario ? { scenario: opts.scenario } : {}),
        ...(ids ? { ids } : {}),
      },
      null,
    );
    await mkdir(dirname(out), { recursive: true });
    const file = createWriteStream(tmp);
    const closed = new Promise<void>((res, rej) => {
      file.on('finish', res);
      file.on('error', rej);
    });
    const t0 = performance.now();
    try {
      await streamBatch(
        pool,
        clues,
        { detectorsDir: config.detectorsDir, publicUrl: config.publicUrl, generatedBy: cliUser() },
        (chunk) => file.write(chunk),
        (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\rpackets ${done}/${total}`);
        },
      );
    } finally {
      file.end();
      await closed;
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    await rename(tmp, out);
    console.log(`${clues.length} packet(s) in ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await pool.end();
  }
}

/**
 * `packet verify <zip> [--require-record]`: exit 0 printing OK, or exit 1 naming every file
 * that does not match. Then, when the database answers, whether this system issued a packet
 * with this manifest (with --require-record, not being on record fails too).
 */
export async function packetVerifyCommand(
  config: Config,
  zip: string,
  opts: { requireRecord?: boolean } = {},
): Promise<boolean> {
  const { verifyPacketFile, findIssue, zipManifestSha256 } = await usecase();
  const r = await verifyPacketFile(zip);
  if (!r.ok) {
    for (const p of r.problems) console.log(`MISMATCH ${p.path}: ${p.problem} — ${p.detail}`);
    console.log(`FAILED: ${r.problems.length} problem(s); ${r.checked} file(s) matched`);
    process.exitCode = 1;
    return false;
  }
  console.log(
    `OK: ${r.checked} file(s) match the manifest (${r.kind}, clue${r.clues.length > 1 ? 's' : ''} ${r.clues.join(', ')})`,
  );
  const sha = zipManifestSha256(await readFile(zip));
  const pool = createPool(config.databaseUrl, 1);
  let onRecord = false;
  try {
    const issue = sha ? await findIssue(pool, sha) : null;
    onRecord = issue !== null;
    console.log(
      issue
        ? `issued: ${issue.generatedAt.toISOString()} by ${issue.generatedBy} (record ${issue.id}, manifest SHA-256 ${sha})`
        : `not on record: this database issued no packet with manifest SHA-256 ${sha}`,
    );
  } catch (err) {
    console.log(`issue record not checked (database unavailable: ${(err as Error).message})`);
  } finally {
    await pool.end();
  }
  if (opts.requireRecord && !onRecord) {
    process.exitCode = 1;
    return false;
  }
  return true;
}

export function registerPacketCommands(cli: Command, config: () => Config): void {
  const packet = cli
    .command('packet')
    .description('inspection packets (现场核查包): PDF, pictures, KML/GPX/GeoJSON and a hashed manifest')
    .argument('[clue-id]', 'the clue to pack')
    .option('--out <dir>', 'folder for clue-<id>/ and clue-<id>.zip', '.')
    // `packet batch --out x.zip`: --out belongs to the subcommand, not to `packet`.
    .enablePositionalOptions()
    .action(async (id: string | undefined, opts: { out: string }) => {
      if (!id) {
        packet.help({ error: true });
        return;
      }
      await packetCommand(config(), id, opts);
    });
  packet
    .command('batch')
    .description('one zip with a packet per clue, selected by county, status, scenario or ids')
    .option('--county <adcode>', 'clues of this county (6-digit adcode)')
    .option('--status <status>', `clues in this status (${CLUE_STATUSES.join(', ')})`)
    .option('--scenario <id>', 'clues of this scenario')
    .option('--ids <list>', 'comma-separated clue ids')
    .requiredOption('--out <zip>', 'zip file to write (written only on success)')
    .action(async (opts) => packetBatchCommand(config(), opts));
  packet
    .command('verify')
    .description('recompute every hash in a packet or batch zip; exit 1 naming each mismatching file')
    .argument('<zip>', 'packet or batch zip')
    .option('--require-record', 'also fail unless this database recorded issuing the packet')
    .action(async (zip: string, opts: { requireRecord?: boolean }) => {
      await packetVerifyCommand(config(), zip, opts);
    });
}
