import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { isSkypatrolError } from '../../core/errors.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('a port number 1–65535');
  return n;
};
const fraction = (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('a number between 0 and 1');
  return n;
};
const nonNegative = (v: string) => {
  const n = Number(v);
  if (!(n >= 0)) throw new InvalidArgumentError('a number ≥ 0');
  return n;
};

/**
 * The `skypatrol` command line without the command groups of `GROUPS` (see `fullProgram`). Each
 * command is a thin shell over a use case, imported when the command runs.
 */
export function program(): Command {
  const cli = new Command('skypatrol')
    .description('天巡 Skypatrol — satellite patrols for public-interest prosecutors')
    .showHelpAfterError('(run with --help for usage)')
    // Options belong to the command they follow (`packet --out dir` vs `packet batch --out x.zip`).
    .enablePositionalOptions();

  const db = cli.command('db').description('database administration');
  db.command('migrate')
    .description('create the database if needed, enable PostGIS, apply migrations')
    .option('--quiet', 'print nothing when already up to date')
    .action(async (opts) => (await import('./commands/db.ts')).dbMigrateCommand(loadConfig(), opts));

  cli
    .command('serve')
    .description('serve the API and the web app')
    .option('--port <port>', 'port to listen on (default SKYPATROL_PORT or 8080)', port)
    .option('--host <host>', 'address to bind (default SKYPATROL_HOST or 127.0.0.1)')
    .action(async (opts) => (await import('./commands/serve.ts')).serveCommand(loadConfig(), opts));

  cli
    .command('worker')
    .description('run a queue worker: patrol tile jobs, detection jobs and notifications')
    .option('--concurrency <n>', 'jobs processed at once', (v) => Number.parseInt(v, 10))
    .option('--no-notifier', 'do not send notifications from this worker')
    .action(async (opts) => (await import('./commands/worker.ts')).workerCommand(loadConfig(), opts));

  cli
    .command('detect')
    .description('detect change between two scenes and write clues as GeoJSON')
    .requiredOption('--before <scene>', 'before scene: a folder of per-band GeoTIFFs (e.g. …/imgs_1)')
    .requiredOption('--after <scene>', 'after scene: a folder of per-band GeoTIFFs')
    .option('--detector <id>', 'detector id (a folder in detectors/)', 'change')
    .option('--out <file>', 'GeoJSON file to write (written only on success)')
    .option('--store', 'also store the polygons as clues in PostGIS')
    .option('--threshold <p>', "probability threshold (default: the detector's)", fraction)
    .option('--min-area <m2>', "minimum mapping unit in m² (default: the detector's)", nonNegative)
    .action(async (opts) => (await import('./commands/detect.ts')).detectCommand(loadConfig(), opts));

  const scenes = cli.command('scenes').description('the scene catalog (STAC items, scene folders)');
  scenes
    .command('add')
    .description('catalogue a STAC Item, ItemCollection, or static Catalog/Collection (file or http(s) URL)')
    .argument('<source>', 'item.json | collection.json | catalog.json | URL')
    .option('--verify', 'also check remote assets exist (HEAD); local assets are always checked')
    .action(async (source, opts) =>
      (await import('./commands/scenes.ts')).scenesAddCommand(loadConfig(), source, opts),
    );
  scenes
    .command('import-folder')
    .description('catalogue a folder of per-band GeoTIFFs (…_B02.tif, …)')
    .argument('<dir>', 'folder of band files')
    .option('--sensor <id>', 'sentinel-2-l1c or sentinel-2-l2a (default: from the file names)')
    .action(async (dir, opts) =>
      (await import('./commands/scenes.ts')).scenesImportFolderCommand(loadConfig(), dir, opts),
    );
  scenes
    .command('list')
    .description('list catalogued scenes')
    .option('--failed', 'list the scenes that failed to import, with their reason')
    .option('--json', 'print JSON')
    .action(async (opts) => (await import('./commands/scenes.ts')).scenesListCommand(loadConfig(), opts));
  scenes
    .command('search')
    .description('search the catalog')
    .option('--bbox <w,s,e,n>', 'intersecting this extent (EPSG:4326)')
    .option('--from <date>', 'acquired on or after (ISO 8601)')
    .option('--to <date>', 'acquired on or before (ISO 8601)')
    .option('--sensor <id>', 'sentinel-2-l2a, sentinel-2-l1c, landsat-c2-l2, gf-wfv, gf-pms')
    .option('--max-cloud <percent>', 'at most this eo:cloud_cover', nonNegative)
    .option('--json', 'print JSON')
    .action(async (opts) => (await import('./commands/scenes.ts')).scenesSearchCommand(loadConfig(), opts));
  scenes
    .command('search-api')
    .description('search a STAC API (POST /search, paged) and catalogue the results')
    .argument('<api>', 'STAC API root URL')
    .option('--bbox <w,s,e,n>', 'extent (EPSG:4326)')
    .option('--datetime <interval>', 'RFC 3339 instant or interval, e.g. 2024-06-01/2024-08-31')
    .option('--collections <ids>', 'comma-separated collection ids')
    .option('--limit <n>', 'page size', (v) => Number.parseInt(v, 10))
    .option('--max <n>', 'stop after this many items', (v) => Number.parseInt(v, 10))
    .action(async (api, opts) =>
      (await import('./commands/scenes.ts')).scenesSearchApiCommand(loadConfig(), api, opts),
    );

  cli
    .command('demo')
    .description('run the demo: simulate the Hulun Nuur region, catalogue it, patrol it, serve the map')
    .option('--oscd', 'instead: detect on real OSCD Sentinel-2 pairs from ../shared/data')
    .option('--size <size>', 'simulated region: demo (38 km), small (6 km) or km', 'demo')
    .option('--resimulate', 'simulate again even if data/demo-region exists')
    .addOption(
      new Option('--city <names>', 'with --oscd: comma-separated OSCD cities').default('paris,bercy'),
    )
    .option('--no-serve', 'do everything but serving')
    .action(async (opts) => (await import('./commands/demo.ts')).demoCommand(loadConfig(), opts));
  cli
    .command('raster')
    .description('GeoTIFF / COG rasters, local or over HTTP')
    .command('info')
    .argument('<href>', 'local path, file:// or http(s):// URL')
    .description('print size, bands, dtype, EPSG, bounds, tiling, overviews, nodata and compression as JSON')
    .action(async (href: string) =>
      (await import('./commands/raster.ts')).rasterInfoCommand(loadConfig(), href),
    );

  const tiles = cli.command('tiles').description('the 10 m UTM analysis grid');
  tiles
    .command('list')
    .description('tiles covering an area (GeoJSON Polygon/MultiPolygon in lon/lat)')
    .requiredOption('--aoi <file>', 'GeoJSON file')
    .option('--json', 'print the ids as JSON')
    .action(async (opts) => (await import('./commands/tiles.ts')).tilesListCommand(loadConfig(), opts));
  tiles
    .command('read')
    .description('composite a tile from the catalogued scenes of a time window')
    .argument('<id>', 'tile id, e.g. 50N-0048-0517')
    .requiredOption('--from <date>', 'window start (ISO 8601)')
    .requiredOption('--to <date>', 'window end (ISO 8601)')
    .option('--sensors <ids>', 'comma-separated sensor ids')
    .addOption(new Option('--method <m>', 'per-pixel choice').choices(['best', 'median']).default('best'))
    .option('--bands <list>', 'canonical bands', 'blue,green,red,nir')
    .option('--png <file>', 'write a true-colour PNG of the composite')
    .action(async (id, opts) =>
      (await import('./commands/tiles.ts')).tilesReadCommand(loadConfig(), id, opts),
    );
  cli
    .command('simulate')
    .description(
      'write a simulated Hulunbuir region: multi-sensor COGs + STAC, zoning, ground truth, manifest',
    )
    .requiredOption('--out <dir>', 'output folder (created; an earlier simulation there is replaced)')
    .option('--seed <n>', 'random seed; the same seed gives byte-identical output', '1')
    .option('--size <size>', 'small (6 km), demo (38 km) or a side length in km', 'small')
    .option('--center <lon,lat>', 'centre of the square (default 117.714,49.388: north tip of Hulun Nuur)')
    .option('--preview', 'also write true/false-colour PNGs of the clear before/after Sentinel-2 scenes')
    .option('--preview-size <px>', 'longest side of the preview PNGs (implies --preview)')
    .action(async (opts) => (await import('./commands/simulate.ts')).simulateCommand(loadConfig(), opts));
  return cli;
}

type Register = (cli: Command, config: typeof loadConfig) => void;
/**
 * Command groups defined in modules of their own, loaded only when their command runs (or for
 * help): a worker process then does not hold the API, packet or evaluation code in its heap
 * (about 28 MB instead of 51 MB of JavaScript heap, which each garbage collection marks), and
 * every command starts sooner.
 */
const GROUPS: Record<string, () => Promise<Register>> = {
  detectors: async () => (await import('./commands/detectors.ts')).registerDetectorsCommands,
  eval: async () => (await import('./commands/eval.ts')).registerEvalCommand,
  zones: async () => (await import('./commands/zones.ts')).registerZonesCommands,
  users: async () => (await import('./commands/users.ts')).registerUsersCommands,
  packet: async () => (await import('./commands/packet.ts')).registerPacketCommands,
  notify: async () => (await import('./commands/notify.ts')).registerNotifyCommands,
  patrol: async () => (await import('./commands/patrol.ts')).registerPatrolCommands,
};

/** The whole command line for `argv`: every group when the command is none of them (help, typos). */
export async function fullProgram(argv: string[]): Promise<Command> {
  const cli = program();
  const name = argv[2];
  const groups = name && Object.hasOwn(GROUPS, name) ? [name] : Object.keys(GROUPS);
  for (const g of groups) (await GROUPS[g]!())(cli, loadConfig);
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await (await fullProgram(argv)).parseAsync(argv);
  } catch (err) {
    const sysErr = err as NodeJS.ErrnoException & { port?: number; address?: string };
    if (isSkypatrolError(err)) {
      process.stderr.write(`skypatrol: ${err.code}: ${err.message}\n`);
    } else if (sysErr?.code === 'EADDRINUSE') {
      process.stderr.write(
        `skypatrol: ADDRESS_IN_USE: ${sysErr.address}:${sysErr.port} is already in use (choose another with --port or SKYPATROL_PORT)\n`,
      );
    } else {
      process.stderr.write(`skypatrol: ${(err as Error)?.stack ?? String(err)}\n`);
    }
    process.exitCode = 1;
  }
}
