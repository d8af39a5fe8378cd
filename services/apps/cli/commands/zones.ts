import type { Command } from 'commander';
import { createPool } from '../../../adapters/postgis/pool.ts';
import { listZoneLayers, type ZoneLayerSummary } from '../../../adapters/postgis/zone-store.ts';
import type { Config } from '../../../core/config.ts';
import { ZONE_KINDS } from '../../../domain/zoning/layers.ts';
import { type ImportZonesReport, importZones } from '../../../usecases/import-zones.ts';

async function withPool<T>(
  config: Config,
  fn: (pool: ReturnType<typeof createPool>) => Promise<T>,
): Promise<T> {
  const pool = createPool(config.databaseUrl, 2);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** The report as printed by `zones import`. */
export function formatImportReport(r: ImportZonesReport): string {
  const lines = [
    `import ${r.importId}: ${r.kind} from ${r.file}`,
    `  features imported: ${r.features}`,
    `  repaired:          ${r.repaired}`,
    `  SRS:               ${r.srs} (${r.srsSource}), stored as EPSG:4326`,
  ];
  if (r.encoding) lines.push(`  DBF encoding:      ${r.encoding}`);
  if (r.replaced) lines.push(`  replaced:          ${r.replaced} zone(s) of the previous ${r.kind} layer`);
  return lines.join('\n');
}

/** `zones import <file> --layer <kind> [--srs EPSG:n] [--replace]`: prints the report, returns it. */
export async function zonesImportCommand(
  config: Config,
  file: string,
  opts: { layer: string; srs?: string; replace?: boolean },
): Promise<ImportZonesReport> {
  const report = await withPool(config, (pool) =>
    importZones(pool, {
      file,
      kind: opts.layer,
      ...(opts.srs !== undefined ? { srs: opts.srs } : {}),
      replace: !!opts.replace,
    }),
  );
  console.log(formatImportReport(report));
  return report;
}

/** `zones list [--json]`: zones per kind with the latest import of each. */
export async function zonesListCommand(
  config: Config,
  opts: { json?: boolean } = {},
): Promise<ZoneLayerSummary[]> {
  const layers = await withPool(config, (pool) => listZoneLayers(pool));
  if (opts.json) {
    console.log(JSON.stringify(layers, null, 2));
    return layers;
  }
  const byKind = new Map(layers.map((l) => [l.kind, l]));
  const width = Math.max(...ZONE_KINDS.map((k) => k.length));
  for (const kind of ZONE_KINDS) {
    const l = byKind.get(kind);
    const last = l?.lastImport
      ? `last import ${l.lastImport.id} at ${l.lastImport.importedAt.toISOString()}: ${l.lastImport.features} feature(s), ${l.lastImport.srs ?? '?'}, ${l.lastImport.file}`
      : 'never imported';
    console.log(`${kind.padEnd(width)}  ${String(l?.zones ?? 0).padStart(7)} zone(s)  ${last}`);
  }
  return layers;
}

/** Add `zones import` and `zones list` to the `skypatrol` command line. */
export function registerZonesCommands(cli: Command, loadConfig: () => Config): void {
  const zones = cli.command('zones').description('zoning layers (permits, protected areas, divisions)');
  zones
    .command('import')
    .description(
      'import a zoning layer from GeoJSON or a zipped Shapefile, reprojected to EPSG:4326, all or nothing ' +
        '(rejected features are named by their 0-based position in the file)',
    )
    .argument('<file>', 'GeoJSON file or .zip with .shp/.shx/.dbf/.prj (and optionally .cpg)')
    .requiredOption('--layer <kind>', `layer kind: ${ZONE_KINDS.join(', ')}`)
    .option('--srs <EPSG:n>', "CRS of the coordinates, overriding the file's own (.prj, GeoJSON crs)")
    .option('--replace', "delete the layer's existing zones in the same transaction (default: add)")
    .action(async (file: string, opts: { layer: string; srs?: string; replace?: boolean }) => {
      await zonesImportCommand(loadConfig(), file, opts);
    });
  zones
    .command('list')
    .description('zones per layer kind with the latest import')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await zonesListCommand(loadConfig(), opts);
    });
}
