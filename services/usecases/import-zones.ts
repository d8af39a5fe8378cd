import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type pg from 'pg';
import { isZip, readZippedShapefile } from '../adapters/files/shapefile.ts';
import { withTransaction } from '../adapters/postgis/pool.ts';
import { storeZoneImport } from '../adapters/postgis/zone-store.ts';
import { SkypatrolError } from '../core/errors.ts';
import { isGeographic } from '../domain/geo/crs.ts';
import { checkFeatureGeometry, type RawFeature } from '../domain/zoning/features.ts';
import { parseGeoJson } from '../domain/zoning/geojson.ts';
import {
  isZoneKind,
  normalizeProperties,
  validateProperties,
  ZONE_KINDS,
  type ZoneKind,
} from '../domain/zoning/layers.ts';
import { prjToEpsg } from '../domain/zoning/prj.ts';
import { isSupportedEpsg, parseSrsReference, SUPPORTED_SRS_TEXT } from '../domain/zoning/srs.ts';

export interface ImportZonesOptions {
  /** GeoJSON file or zipped Shapefile. */
  file: string;
  /** Layer kind (contracts.md "Zoning layers"). */
  kind: string;
  /** `EPSG:n`: overrides the file's own CRS (GeoJSON `crs` member, Shapefile `.prj`). */
  srs?: string;
  /** Delete the layer's existing zones in the same transaction. */
  replace?: boolean;
}

export interface ImportZonesReport {
  importId: number;
  kind: ZoneKind;
  file: string;
  format: 'geojson' | 'shapefile';
  features: number;
  repaired: number;
  /** Zones of this kind deleted by `replace`. */
  replaced: number;
  /** Source CRS, e.g. "EPSG:4547", and where it came from. */
  srs: string;
  srsSource: '--srs' | 'crs member' | '.prj' | 'GeoJSON default';
  /** DBF text encoding (Shapefiles only) and how it was chosen. */
  encoding?: string;
}

const MAX_REPORTED = 20;

function unknownSrs(message: string): SkypatrolError {
  return new SkypatrolError('ZONES_UNKNOWN_SRS', `${message}; supported: ${SUPPORTED_SRS_TEXT}`);
}

/** `EPSG:n` (or n) → a supported EPSG code, else ZONES_UNKNOWN_SRS. */
export function resolveSrsOption(srs: string): number {
  const epsg = parseSrsReference(srs);
  if (epsg === null) throw unknownSrs(`--srs "${srs}" is not an EPSG code (write EPSG:n)`);
  if (!isSupportedEpsg(epsg)) throw unknownSrs(`--srs EPSG:${epsg} is not supported`);
  return epsg;
}

async function readInput(file: string, label: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new SkypatrolError('ZONES_INVALID_FILE', `${label}: cannot read (${why})`, { cause: err });
  }
}

/**
 * Import a zoning layer: read the file, settle its CRS, validate every feature's properties and
 * geometry shape, then reproject, repair and store all features in one transaction. Any rejected
 * feature stops the import with its 0-based index and reason; nothing is written then.
 */
export async function importZones(pool: pg.Pool, opts: ImportZonesOptions): Promise<ImportZonesReport> {
  if (!isZoneKind(opts.kind))
    throw new SkypatrolError(
      'ZONES_UNKNOWN_LAYER',
      `unknown layer kind "${opts.kind}"; one of ${ZONE_KINDS.join(', ')}`,
    );
  const kind = opts.kind;
  const override = opts.srs !== undefined ? resolveSrsOption(opts.srs) : undefined;
  const label = basename(opts.file);
  const bytes = await readInput(opts.file, label);
  if (bytes.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09))
    throw new SkypatrolError('ZONES_INVALID_FILE', `${label}: the file is empty`);

  let format: ImportZonesReport['format'];
  let features: RawFeature[];
  let epsg: number;
  let srsSource: ImportZonesReport['srsSource'];
  let encoding: string | undefined;
  if (isZip(bytes)) {
    format = 'shapefile';
    const layer = readZippedShapefile(bytes, label);
    features = layer.features;
    encoding = `${layer.encoding} (${layer.encodingSource})`;
    if (override !== undefined) {
      epsg = override;
      srsSource = '--srs';
    } else {
      if (layer.prj === null || layer.prj === '')
        throw unknownSrs(
          `${label}: ${layer.name} has no .prj; say which CRS its coordinates are in with --srs EPSG:n`,
        );
      const prj = prjToEpsg(layer.prj);
      if (!prj.ok)
        throw unknownSrs(
          `${label}: the .prj CRS${prj.name ? ` "${prj.name}"` : ''} is not supported: ${prj.reason} (or override with --srs EPSG:n)`,
        );
      epsg = prj.epsg;
      srsSource = '.prj';
    }
  } else if (/\.zip$/i.test(opts.file)) {
    throw new SkypatrolError('ZONES_INVALID_FILE', `${label}: not a zip archive`);
  } else if (/\.(shp|shx|dbf)$/i.test(opts.file)) {
    throw new SkypatrolError(
      'ZONES_INVALID_FILE',
      `${label}: a Shapefile must be imported as a .zip holding its .shp, .shx, .dbf and .prj`,
    );
  } else {
    format = 'geojson';
    const layer = parseGeoJson(bytes, label);
    features = layer.features;
    if (override !== undefined) {
      epsg = override;
      srsSource = '--srs';
    } else if (layer.crs !== undefined) {
      if ('error' in layer.crs) throw unknownSrs(`${label}: ${layer.crs.error}`);
      if (!isSupportedEpsg(layer.crs.epsg))
        throw unknownSrs(
          `${label}: "crs" member ${layer.crs.text} (EPSG:${layer.crs.epsg}) is not supported`,
        );
      epsg = layer.crs.epsg;
      srsSource = 'crs member';
    } else {
      epsg = 4326;
      srsSource = 'GeoJSON default';
    }
  }
  if (features.length === 0)
    throw new SkypatrolError('ZONES_INVALID_FILE', `${label}: the file holds no features`);
  const srs = `EPSG:${epsg}`;

  // Everything checkable without the database, over all features: report the first, count the rest.
  type Problem = { index: number; code: SkypatrolError['code']; message: string; property?: string };
  const problems: Problem[] = [];
  let problemCount = 0;
  for (const f of features) {
    const found: Problem[] = validateProperties(kind, f.properties, f.index);
    const g = checkFeatureGeometry(f, isGeographic(epsg), srs);
    if (g) found.push(g);
    problemCount += found.length;
    problems.push(...found.slice(0, MAX_REPORTED - problems.length));
  }
  if (problemCount > 0) {
    const first = problems[0]!;
    const rest = problemCount - 1;
    throw new SkypatrolError(
      first.code,
      `${label}: ${first.message}${rest ? ` (and ${rest} more problem${rest > 1 ? 's' : ''})` : ''}`,
      {
        details: {
          index: first.index,
          ...(first.property ? { property: first.property } : {}),
          problems,
        },
      },
    );
  }

  const file = resolve(opts.file);
  const stored = await withTransaction(pool, (client) =>
    storeZoneImport(client, {
      kind,
      file,
      srid: epsg,
      srs,
      replace: !!opts.replace,
      features: features.map((f) => ({
        index: f.index,
        properties: normalizeProperties(kind, f.properties),
        geometry: f.geometry,
      })),
    }),
  );
  return {
    importId: stored.importId,
    kind,
    file,
    format,
    features: stored.features,
    repaired: stored.repaired,
    replaced: stored.replaced,
    srs,
    srsSource,
    ...(encoding ? { encoding } : {}),
  };
}
