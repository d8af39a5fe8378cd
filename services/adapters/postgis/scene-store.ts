import type pg from 'pg';
import type { SceneDescriptor } from '../../domain/catalog/stac.ts';

type Db = pg.Pool | pg.PoolClient;

export interface SceneRecord {
  id: string;
  sensor: string;
  platform: string | null;
  datetime: Date;
  epsg: number | null;
  /** [west, south, east, north] in EPSG:4326. */
  bbox: [number, number, number, number];
  assets: Record<string, { href: string; sha256?: string }>;
  source: string;
}

/** Insert or refresh a scene folder's record (same id → updated in place). */
export async function upsertScene(db: Db, s: SceneRecord): Promise<void> {
  await db.query(
    `INSERT INTO scenes (id, sensor, platform, datetime, epsg, footprint, assets, source)
     VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_MakeEnvelope($6, $7, $8, $9, 4326)), $10, $11)
     ON CONFLICT (id) DO UPDATE SET sensor = EXCLUDED.sensor, platform = EXCLUDED.platform,
       datetime = EXCLUDED.datetime, epsg = EXCLUDED.epsg, footprint = EXCLUDED.footprint,
       assets = EXCLUDED.assets, source = EXCLUDED.source, status = 'ready', error = NULL, error_code = NULL`,
    [s.id, s.sensor, s.platform, s.datetime, s.epsg, ...s.bbox, JSON.stringify(s.assets), s.source],
  );
}

/** Insert or refresh a STAC scene; footprint from the item geometry (made valid), else its bbox. */
export async function upsertDescriptor(
  db: Db,
  d: SceneDescriptor,
  source: string,
  item: unknown,
  sha256: Record<string, string>,
): Promise<void> {
  const assets = Object.fromEntries(
    Object.entries(d.bands).map(([band, a]) => [
      band,
      {
        href: a!.href,
        key: a!.key,
        scale: a!.scale,
        offset: a!.offset,
        nodata: a!.nodata,
        gsd: a!.gsd,
        checksum: a!.checksum,
        sha256: sha256[band] ?? null,
      },
    ]),
  );
  await db.query(
    `INSERT INTO scenes (id, collection, sensor, platform, datetime, cloud_cover, epsg, footprint, assets, mask, item, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7,
       COALESCE(
         (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($8), 4326)), 3))
           WHERE ST_Dimension(ST_GeomFromGeoJSON($8)) = 2),
         ST_Multi(ST_MakeEnvelope($9, $10, $11, $12, 4326))),
       $13, $14, $15, $16)
     ON CONFLICT (id) DO UPDATE SET collection = EXCLUDED.collection, sensor = EXCLUDED.sensor,
       platform = EXCLUDED.platform, datetime = EXCLUDED.datetime, cloud_cover = EXCLUDED.cloud_cover,
       epsg = EXCLUDED.epsg, footprint = EXCLUDED.footprint, assets = EXCLUDED.assets, mask = EXCLUDED.mask,
       item = EXCLUDED.item, source = EXCLUDED.source, status = 'ready', error = NULL, error_code = NULL`,
    [
      d.id,
      d.collection,
      d.sensor,
      d.platform,
      d.datetime,
      d.cloudCover,
      d.epsg,
      JSON.stringify(d.geometry),
      ...d.bbox,
      JSON.stringify(assets),
      JSON.stringify(d.mask),
      JSON.stringify(item),
      source,
    ],
  );
}

/** Record an item that could not be imported, with its reason; a later good import replaces it. */
export async function recordFailedScene(
  db: Db,
  id: string,
  source: string,
  code: string,
  message: string,
): Promise<void> {
  await db.query(
    `INSERT INTO scenes (id, source, status, error_code, error) VALUES ($1, $2, 'failed', $3, $4)
     ON CONFLICT (id) DO UPDATE SET status = 'failed', error_code = EXCLUDED.error_code, error = EXCLUDED.error, source = EXCLUDED.source`,
    [id, source, code, message],
  );
}

export interface SceneSearch {
  bbox?: [number, number, number, number];
  from?: string;
  to?: string;
  sensor?: string;
  maxCloud?: number;
  status?: 'ready' | 'failed';
  limit?: number;
}

export interface SceneRow {
  id: string;
  sensor: string | null;
  platform: string | null;
  datetime: Date | null;
  cloud_cover: number | null;
  epsg: number | null;
  status: string;
  error_code: string | null;
  error: string | null;
  bands: string[];
  bbox: number[] | null;
}

/** Scenes matching a search, oldest first. */
export async function searchScenes(db: Db, q: SceneSearch): Promise<SceneRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  where.push(`status = ${arg(q.status ?? 'ready')}`);
  if (q.bbox)
    where.push(
      `footprint && ST_MakeEnvelope(${q.bbox.map(arg).join(', ')}, 4326) AND ST_Intersects(footprint, ST_MakeEnvelope(${q.bbox.map(arg).join(', ')}, 4326))`,
    );
  if (q.from) where.push(`datetime >= ${arg(q.from)}::timestamptz`);
  if (q.to) where.push(`datetime < (${arg(q.to)}::date + 1)`);
  if (q.sensor) where.push(`sensor = ${arg(q.sensor)}`);
  if (q.maxCloud !== undefined) where.push(`(cloud_cover IS NULL OR cloud_cover <= ${arg(q.maxCloud)})`);
  const { rows } = await db.query<SceneRow>(
    `SELECT id, sensor, platform, datetime, cloud_cover, epsg, status, error_code, error,
            ARRAY(SELECT jsonb_object_keys(assets) ORDER BY 1) AS bands,
            CASE WHEN footprint IS NULL THEN NULL
                 ELSE ARRAY[ST_XMin(footprint), ST_YMin(footprint), ST_XMax(footprint), ST_YMax(footprint)] END AS bbox
       FROM scenes WHERE ${where.join(' AND ')} ORDER BY datetime NULLS LAST, id LIMIT ${arg(q.limit ?? 1000)}`,
    args,
  );
  return rows;
}

/** Mark a catalogued scene unusable after a read found it broken (keeps its metadata). */
export async function markSceneFailed(db: Db, id: string, code: string, message: string): Promise<void> {
  await db.query("UPDATE scenes SET status = 'failed', error_code = $2, error = $3 WHERE id = $1", [
    id,
    code,
    message,
  ]);
}
