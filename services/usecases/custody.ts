import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { sha256File } from '../adapters/files/hash.ts';
import { SkypatrolError } from '../core/errors.ts';

/**
 * Chain of custody for the imagery behind a clue: the SHA-256 of every asset (band files and
 * the mask) of each input scene. Hashes recorded at import (`scenes add` hashes local files)
 * are reused; missing ones — remote assets, masks, scenes catalogued before hashing — are
 * computed by streaming the file (or the HTTP body) and stored back in the catalog
 * (`scenes.assets[band].sha256`, `scenes.mask.sha256`, with `sha256_at`), so they are
 * computed once. Keys are the STAC asset keys (`red`, `B04`, `scl`, …; the band name for
 * scene folders); bands sharing one file appear once.
 *
 * The patrol stores the result in `clues.inputs.custody` when it writes a clue; packets use
 * that record and fall back to calling this at packet time (and say so).
 */
export type SceneCustody = Record<string, Record<string, { href: string; sha256: string }>>;

interface AssetJson {
  href?: string;
  key?: string;
  sha256?: string | null;
}

const SHA = /^[0-9a-f]{64}$/;

function hrefToPath(href: string): string | null {
  if (href.startsWith('file:')) return fileURLToPath(href);
  if (/^https?:\/\//i.test(href)) return null;
  return href;
}

/** Stream-hash an asset: local path, file:// URL, or http(s) URL. */
export async function hashAsset(href: string): Promise<string> {
  const path = hrefToPath(href);
  if (path !== null) {
    try {
      return await sha256File(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SkypatrolError(
        code === 'ENOENT' ? 'SCENE_NOT_FOUND' : 'SCENE_CORRUPT',
        `cannot hash ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  let res: Response;
  try {
    res = await fetch(href, { signal: AbortSignal.timeout(600_000) });
  } catch (err) {
    throw new SkypatrolError(
      'SCENE_UNREACHABLE',
      `cannot fetch ${href} to hash it: ${(err as Error).message}`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
  if (!res.ok || !res.body)
    throw new SkypatrolError(
      res.status === 404 || res.status === 410 ? 'SCENE_NOT_FOUND' : 'SCENE_UNREACHABLE',
      `cannot fetch ${href} to hash it: HTTP ${res.status}`,
      { retryable: res.status >= 500 },
    );
  const hash = createHash('sha256');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  } catch (err) {
    throw new SkypatrolError('SCENE_UNREACHABLE', `reading ${href} failed: ${(err as Error).message}`, {
      cause: err,
      retryable: true,
    });
  }
  return hash.digest('hex');
}

/**
 * Asset hashes of the given catalogued scenes, computing and storing those still missing.
 * Scenes that are not in the catalog are absent from the result (callers compare the keys);
 * an asset that cannot be read throws (SCENE_NOT_FOUND, SCENE_UNREACHABLE — retryable — or
 * SCENE_CORRUPT).
 */
export async function custodyFor(pool: pg.Pool, sceneIds: string[]): Promise<SceneCustody> {
  const ids = [...new Set(sceneIds)];
  if (ids.length === 0) return {};
  const { rows } = await pool.query<{
    id: string;
    assets: Record<string, AssetJson>;
    mask: AssetJson & { kind?: string };
  }>('SELECT id, assets, mask FROM scenes WHERE id = ANY($1::text[]) ORDER BY id', [ids]);
  const out: SceneCustody = {};
  for (const scene of rows) {
    const record: Record<string, { href: string; sha256: string }> = {};
    // href → hash: a file holding several bands is hashed once.
    const known = new Map<string, string>();
    for (const a of [...Object.values(scene.assets ?? {}), scene.mask ?? {}])
      if (a.href && a.sha256 && SHA.test(a.sha256)) known.set(a.href, a.sha256);
    const entries: { key: string; href: string; isMask: boolean }[] = [];
    for (const [band, a] of Object.entries(scene.assets ?? {})) {
      if (a?.href) entries.push({ key: a.key ?? band, href: a.href, isMask: false });
    }
    if (scene.mask?.href)
      entries.push({ key: scene.mask.key ?? 'mask', href: scene.mask.href, isMask: true });
    for (const e of entries) {
      let sha = known.get(e.href);
      if (!sha) {
        sha = await hashAsset(e.href);
        known.set(e.href, sha);
        await storeHash(pool, scene.id, e.href, sha);
      }
      // Two keys for one file keep the first (bands of one multi-band asset share its key anyway).
      if (!record[e.key]) record[e.key] = { href: e.href, sha256: sha };
    }
    out[scene.id] = record;
  }
  return out;
}

/** Record a computed hash on every asset (and the mask) of the scene with this href. */
async function storeHash(pool: pg.Pool, sceneId: string, href: string, sha256: string): Promise<void> {
  await pool.query(
    `UPDATE scenes SET
       assets = COALESCE((SELECT jsonb_object_agg(k, CASE WHEN v->>'href' = $2
                            THEN v || jsonb_build_object('sha256', $3::text, 'sha256_at', now())
                            ELSE v END)
                     FROM jsonb_each(assets) e(k, v)), assets),
       mask = CASE WHEN mask->>'href' = $2
                   THEN mask || jsonb_build_object('sha256', $3::text, 'sha256_at', now()) ELSE mask END
     WHERE id = $1`,
    [sceneId, href, sha256],
  );
}
