import type { Command } from 'commander';
import { generatePassword, hashPassword } from '../../../adapters/auth/crypto.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import { createUser, listUsers } from '../../../adapters/postgis/user-store.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { passwordProblem } from '../../../domain/auth/credentials.ts';
import { isRole, ROLES, validateCounties } from '../../../domain/clues/review.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function usersAddCommand(
  config: Config,
  username: string,
  opts: { role: string; counties?: string; passwordStdin?: boolean; displayName?: string },
): Promise<void> {
  if (!isRole(opts.role))
    throw new SkypatrolError('VALIDATION', `role must be one of ${ROLES.join(', ')}; got "${opts.role}"`);
  const name = username.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9._-]{1,62}$/.test(name))
    throw new SkypatrolError('VALIDATION', `username "${username}" must be 2–63 of a-z 0-9 . _ -`);
  const counties = (opts.counties ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const countyProblem = validateCounties(opts.role, counties);
  if (countyProblem) throw new SkypatrolError('VALIDATION', countyProblem);
  const generated = !opts.passwordStdin;
  const password = generated ? generatePassword() : await readStdin();
  const problem = passwordProblem(password);
  if (problem) throw new SkypatrolError('VALIDATION', problem);
  const pool = createPool(config.databaseUrl, 1);
  try {
    const user = await createUser(pool, {
      username: name,
      displayName: opts.displayName ?? '',
      passwordHash: await hashPassword(password),
      role: opts.role,
      counties,
    });
    console.log(
      `user ${user.username} (id ${user.id}, ${user.role}${counties.length ? `, counties ${counties.join(',')}` : ''}) added`,
    );
    if (generated) console.log(`password: ${password}`);
  } finally {
    await pool.end();
  }
}

export async function usersListCommand(config: Config, opts: { json?: boolean }): Promise<void> {
  const pool = createPool(config.databaseUrl, 1);
  try {
    const users = await listUsers(pool);
    if (opts.json) {
      console.log(JSON.stringify(users, null, 2));
      return;
    }
    for (const u of users)
      console.log(
        [
          u.id,
          u.username,
          u.role,
          u.counties.join(',') || '-',
          u.active ? 'active' : 'inactive',
          u.display_name,
        ]
          .join('\t')
          .trimEnd(),
      );
  } finally {
    await pool.end();
  }
}

/** `skypatrol users add|list`. */
export function registerUsersCommands(cli: Command, loadConfig: () => Config): void {
  const users = cli.command('users').description('users, roles and county scopes');
  users
    .command('add')
    .description('add a user; prints a generated password unless --password-stdin')
    .argument('<username>', 'login name (a-z 0-9 . _ -)')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--counties <adcodes>', 'comma-separated county adcodes (prosecutor, field), e.g. 150702,150781')
    .option('--display-name <name>', 'name shown in the workspace')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts) => usersAddCommand(loadConfig(), username, opts));
  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (opts) => usersListCommand(loadConfig(), opts));
}
