import { migrate } from '../../../adapters/postgis/migrate.ts';
import type { Config } from '../../../core/config.ts';

export async function dbMigrateCommand(config: Config, opts: { quiet?: boolean }): Promise<void> {
  const applied = await migrate(config.databaseUrl, (m) => {
    if (!opts.quiet) console.log(m);
  });
  if (!opts.quiet || applied.length)
    console.log(applied.length ? `migrated: ${applied.join(', ')}` : 'database is up to date');
}
