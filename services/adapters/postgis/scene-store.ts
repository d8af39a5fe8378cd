import type pg from 'pg';

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

/** Insert or refresh a scene in the catalog (same id → updated in place). */
export async function upsertScene(db: pg.Pool | pg.PoolClient, s: SceneRecord): Promise<void> {
  await db.query(
    `INSERT INTO scenes (id, sensor, platform, datetime, epsg, footprint, assets, source)
     VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_MakeEnvelope($6, $7, $8, $9, 4326)), $10, $11)
     ON CONFLICT (id) DO UPDATE SET sensor = EXCLUDED.sensor, platform = EXCLUDED.platform,
       datetime = EXCLUDED.datetime, epsg = EXCLUDED.epsg, footprint = EXCLUDED.footprint,
       assets = EXCLUDED.assets, source = EXCLUDED.source, status = 'ready', error = NULL`,
    [s.id, s.sensor, s.platform, s.datetime, s.epsg, ...s.bbox, JSON.stringify(s.assets), s.source],
  );
}
