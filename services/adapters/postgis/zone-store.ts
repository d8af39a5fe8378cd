import { basename } from 'node:path';
import type pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';
import type { ZoneKind } from '../../domain/zoning/layers.ts';

type Db = pg.Pool | pg.PoolClient;

export interface ZoneFeatureInput {
  /** 0-based position in the source file, for error messages. */
  index: number;
  properties: Record<string, unknown>;
  /** GeoJSON geometry (Polygon/MultiPolygon) in the source CRS. */
  geometry: unknown;
}

export interface ZoneImportInput {
  kind: ZoneKind;
  file: string;
  /** Source CRS of the coordinates. */
  srid: number;
  /** As recorded in zone_imports.srs, e.g. "EPSG:4547". */
  srs: string;
  replace: boolean;
  features: ZoneFeatureInput[];
}

export interface ZoneImportResult {
  importId: number;
  features: number;
  repaired: number;
  /** Zones of this kind deleted by --replace. */
  replaced: number;
}

const BATCH = 500;
const MAX_LISTED_PROBLEMS = 20;

/**
 * Store one zoning import on `client`, which must be inside a transaction (all or nothing):
 * stage the features, reproject them to EPSG:4326 with PostGIS (the same PROJ and EPSG database
 * as ogr2ogr), repair invalid ones with ST_MakeValid keeping only their polygons, reject those
 * left without area, then (with `replace`) delete the layer's zones and insert the new ones.
 * Throws ZONES_INVALID_GEOMETRY naming the first bad feature; the caller's rollback discards all.
 */
export async function storeZoneImport(
  client: pg.PoolClient,
  input: ZoneImportInput,
): Promise<ZoneImportResult> {
  // ST_IsValid reports each invalidity as a NOTICE: the reasons are collected below instead.
  await client.query('SET LOCAL client_min_messages = warning');
  // Imports of one layer queue behind each other, so --replace never interleaves with an add.
  await client.query("SELECT pg_advisory_xact_lock(hashtext('skypatrol.zones'), hashtext($1))", [input.kind]);
  await client.query(`CREATE TEMP TABLE zone_staging (
      idx integer PRIMARY KEY, props jsonb NOT NULL, geom geometry,
      repaired boolean NOT NULL DEFAULT false, reason text
    ) ON COMMIT DROP`);
  for (let i = 0; i < input.features.length; i += BATCH) {
    await stageBatch(client, input, input.features.slice(i, i + BATCH));
  }

  await client.query(
    `UPDATE zone_staging
      SET reason = 'coordinates fall outside longitude/latitude after reprojection from ' || $1::text || ' (wrong --srs?)'
      WHERE ST_XMin(geom) < -180 OR ST_XMax(geom) > 180 OR ST_YMin(geom) < -90 OR ST_YMax(geom) > 90`,
    [input.srs],
  );
  // Every SET sees the old row: `reason` is the original geometry's invalidity.
  await client.query(`UPDATE zone_staging
      SET repaired = true, reason = ST_IsValidReason(geom), geom = ST_CollectionExtract(ST_MakeValid(geom), 3)
      WHERE reason IS NULL AND NOT ST_IsValid(geom)`);
  const bad = await client.query<{ idx: number; why: string }>(`SELECT idx,
        CASE WHEN NOT repaired THEN reason
             WHEN ST_IsValid(geom) THEN 'invalid geometry (' || reason || ') has no area left after repair'
             ELSE 'invalid geometry (' || reason || ') could not be repaired' END AS why
      FROM zone_staging
      WHERE (NOT repaired AND reason IS NOT NULL) OR ST_IsEmpty(geom) OR ST_Area(geom) = 0 OR NOT ST_IsValid(geom)
      ORDER BY idx LIMIT ${MAX_LISTED_PROBLEMS + 1}`);
  if (bad.rows.length > 0) {
    const first = bad.rows[0]!;
    const more =
      bad.rows.length > MAX_LISTED_PROBLEMS ? `at least ${MAX_LISTED_PROBLEMS}` : String(bad.rows.length - 1);
    throw new SkypatrolError(
      'ZONES_INVALID_GEOMETRY',
      `${basename(input.file)}: feature ${first.idx}: ${first.why}${bad.rows.length > 1 ? ` (and ${more} more rejected)` : ''}`,
      {
        details: {
          index: first.idx,
          problems: bad.rows.slice(0, MAX_LISTED_PROBLEMS).map((r) => ({ index: r.idx, reason: r.why })),
        },
      },
    );
  }

  const replaced = input.replace
    ? ((await client.query('DELETE FROM zones WHERE kind = $1', [input.kind])).rowCount ?? 0)
    : 0;
  const repaired = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM zone_staging WHERE repaired',
  );
  const nRepaired = repaired.rows[0]!.n;
  const imp = await client.query<{ id: number }>(
    `INSERT INTO zone_imports (kind, file, features, repaired, srs) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [input.kind, input.file, input.features.length, nRepaired, input.srs],
  );
  const importId = imp.rows[0]!.id;
  // Exterior rings counter-clockwise, as RFC 7946 asks of what we later serve as GeoJSON.
  await client.query(
    `INSERT INTO zones (kind, import_id, properties, geom)
     SELECT $1, $2, props, ST_Multi(ST_ForcePolygonCCW(geom)) FROM zone_staging ORDER BY idx`,
    [input.kind, importId],
  );
  return { importId, features: input.features.length, repaired: nRepaired, replaced };
}

const STAGE_SQL = `INSERT INTO zone_staging (idx, props, geom)
  SELECT i, p, ST_Transform(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(g), $4::int)), 4326)
  FROM unnest($1::int[], $2::jsonb[], $3::text[]) AS t(i, p, g)`;

async function stageBatch(
  client: pg.PoolClient,
  input: ZoneImportInput,
  batch: ZoneFeatureInput[],
): Promise<void> {
  const args = (fs: ZoneFeatureInput[]) => [
    fs.map((f) => f.index),
    fs.map((f) => JSON.stringify(f.properties)),
    fs.map((f) => JSON.stringify(f.geometry)),
    input.srid,
  ];
  await client.query('SAVEPOINT zone_batch');
  try {
    await client.query(STAGE_SQL, args(batch));
    await client.query('RELEASE SAVEPOINT zone_batch');
    return;
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT zone_batch');
  }
  // PostGIS refused something in the batch (parse or projection failure): find which feature.
  for (const f of batch) {
    try {
      await client.query(STAGE_SQL, args([f]));
    } catch (err) {
      throw new SkypatrolError(
        'ZONES_INVALID_GEOMETRY',
        `${basename(input.file)}: feature ${f.index}: PostGIS cannot read or reproject its geometry: ${(err as Error).message}`,
        { cause: err, details: { index: f.index } },
      );
    }
  }
  await client.query('RELEASE SAVEPOINT zone_batch');
}

export interface ZoneLayerSummary {
  kind: ZoneKind;
  zones: number;
  lastImport: {
    id: number;
    file: string;
    features: number;
    repaired: number;
    srs: string | null;
    importedAt: Date;
  } | null;
}

/** Zone count per kind and the latest import of each kind (kinds never imported are omitted). */
export async function listZoneLayers(db: Db): Promise<ZoneLayerSummary[]> {
  const { rows } = await db.query<{
    kind: ZoneKind;
    zones: number;
    id: number | null;
    file: string | null;
    features: number | null;
    repaired: number | null;
    srs: string | null;
    imported_at: Date | null;
  }>(`WITH counts AS (SELECT kind, count(*)::int AS zones FROM zones GROUP BY kind),
          latest AS (SELECT DISTINCT ON (kind) id, kind, file, features, repaired, srs, imported_at
                     FROM zone_imports ORDER BY kind, imported_at DESC, id DESC)
      SELECT COALESCE(c.kind, l.kind) AS kind, COALESCE(c.zones, 0) AS zones,
             l.id, l.file, l.features, l.repaired, l.srs, l.imported_at
      FROM counts c FULL JOIN latest l ON l.kind = c.kind
      ORDER BY 1`);
  return rows.map((r) => ({
    kind: r.kind,
    zones: r.zones,
    lastImport:
      r.id === null
        ? null
        : {
            id: r.id,
            file: r.file!,
            features: r.features!,
            repaired: r.repaired!,
            srs: r.srs,
            importedAt: r.imported_at!,
          },
  }));
}
