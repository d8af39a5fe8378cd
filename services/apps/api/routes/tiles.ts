import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type ClueFilter,
  type CoverageFilter,
  layerBounds,
  type VectorLayer,
  vectorTile,
  type ZoneFilter,
} from '../../../adapters/postgis/mvt-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { isValidTile, MAX_ZOOM, type TileCoord, tileJson } from '../../../domain/geo/webmercator.ts';
import { ZONE_KINDS } from '../../../domain/zoning/layers.ts';
import {
  renderMosaicTile,
  renderSceneTile,
  sceneTileInfo,
  type TileFormat,
  type TileMode,
} from '../../../usecases/render-tile.ts';
import { exportRoutes } from './exports.ts';
import { scopedClueFilter } from './scope.ts';
import {
  type ClueFilterParams,
  ClueFilterQuery,
  checkDates,
  DATE,
  list,
  statsRoutes,
  toClueFilter,
} from './stats.ts';

const TileParams = {
  z: Type.Integer({ minimum: 0, maximum: MAX_ZOOM }),
  x: Type.Integer({ minimum: 0 }),
  y: Type.Integer({ minimum: 0 }),
};

/** Scene ids are catalog keys, never paths: letters, digits and . _ : - only, no "..". */
export const SCENE_ID_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$';

function tileOf(p: { z: number; x: number; y: number }): TileCoord {
  const t = { z: p.z, x: p.x, y: p.y };
  if (!isValidTile(t)) {
    throw new SkypatrolError(
      'VALIDATION',
      `tile ${t.z}/${t.x}/${t.y} does not exist (x and y must be < 2^z)`,
    );
  }
  return t;
}

/** Send bytes with a content ETag (304 when the client has it) and cache headers. */
function sendCached(
  req: FastifyRequest,
  reply: FastifyReply,
  body: Buffer,
  type: string,
  maxAge: number,
  etag?: string,
): FastifyReply {
  const tag = etag ?? `"${createHash('sha1').update(body).digest('base64url')}"`;
  reply
    .header('etag', tag)
    .header('cache-control', `public, max-age=${maxAge}, stale-while-revalidate=${maxAge}`);
  if (!reply.hasHeader('vary')) reply.header('vary', 'accept-encoding');
  const inm = req.headers['if-none-match'];
  if (inm?.split(',').some((t) => t.trim() === tag || t.trim() === `W/${tag}`)) {
    return reply.status(304).send();
  }
  return reply.type(type).send(body);
}

const LAYER_FIELDS: Record<VectorLayer, Record<string, string>> = {
  clues: {
    id: 'Number',
    scenario: 'String',
    status: 'String',
    confidence: 'Number',
    area_mu: 'Number',
    priority: 'Number',
    last_seen: 'String',
    count: 'Number',
    max_priority: 'Number',
    max_confidence: 'Number',
    cluster: 'Boolean',
  },
  coverage: { id: 'Number', run_id: 'String', tile_id: 'String', status: 'String', finished: 'String' },
  zones: { id: 'Number', kind: 'String', name: 'String', code: 'String' },
};

const LAYER_DESCRIPTIONS: Record<VectorLayer, string> = {
  clues:
    '线索 Clues found on satellite imagery (z ≤ 10: clusters with count, max_priority, max_confidence; z11: one point per clue; z ≥ 12: polygons)',
  coverage: '巡查覆盖 Area covered by patrols',
  zones: '区划 Zoning layers (permits, protected areas, admin divisions)',
};

/** Clients cache vector tiles for this long (clues change as they are reviewed). */
const MVT_MAX_AGE: Record<VectorLayer, number> = { clues: 60, coverage: 300, zones: 3600 };
const IMAGERY_MAX_AGE = 86400;

const TileQueryAll = Type.Object({
  ...ClueFilterQuery,
  run_id: Type.Optional(Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F-]{36}$' })),
  kind: Type.Optional(Type.String({ pattern: list(ZONE_KINDS) })),
});
type TileQuery = ClueFilterParams & { run_id?: string; kind?: string };

function layerFilter(layer: VectorLayer, q: TileQuery): ClueFilter | CoverageFilter | ZoneFilter {
  if (layer === 'clues') return toClueFilter(q);
  if (layer === 'coverage') {
    checkDates(q.from, q.to);
    return {
      ...(q.run_id ? { runId: q.run_id } : {}),
      ...(q.from ? { from: q.from } : {}),
      ...(q.to ? { to: q.to } : {}),
    };
  }
  return q.kind ? { kind: q.kind.split(',') } : {};
}

const LayerParam = Type.Union([Type.Literal('clues'), Type.Literal('coverage'), Type.Literal('zones')]);
const FormatParam = Type.Union([Type.Literal('png'), Type.Literal('webp')]);
const ModeQuery = Type.Union(
  [Type.Literal('true-color'), Type.Literal('false-color'), Type.Literal('ndvi')],
  {
    default: 'true-color',
  },
);

function origin(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

function queryString(req: FastifyRequest): string {
  const i = req.url.indexOf('?');
  return i >= 0 ? req.url.slice(i) : '';
}

export async function tileRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/tiles/:layer/:z/:x/:y.mvt',
    {
      schema: {
        tags: ['tiles'],
        summary: 'Vector tile (MVT) of clues, patrol coverage or zones; 204 when empty',
        params: Type.Object({ layer: LayerParam, ...TileParams }),
        querystring: TileQueryAll,
      },
    },
    async (req, reply) => {
      const p = req.params as { layer: VectorLayer; z: number; x: number; y: number };
      // Clue tiles differ by reader (county scope): shared caches must not mix them.
      if (p.layer === 'clues') reply.header('vary', 'accept-encoding, authorization, cookie');
      const tile = tileOf(p);
      let filter = layerFilter(p.layer, req.query as TileQuery);
      if (p.layer === 'clues') filter = await scopedClueFilter(req, filter as ClueFilter);
      const { mvt, features, etag } = await vectorTile(app.deps.pool, p.layer, tile, filter);
      if (features === 0 || mvt.byteLength === 0) {
        return reply.status(204).header('cache-control', `public, max-age=${MVT_MAX_AGE[p.layer]}`).send();
      }
      return sendCached(req, reply, mvt, 'application/vnd.mapbox-vector-tile', MVT_MAX_AGE[p.layer], etag);
    },
  );

  app.get(
    '/tiles/:layer.json',
    {
      schema: {
        tags: ['tiles'],
        summary: 'TileJSON 3.0 for a vector layer (filters are carried into the tile URLs)',
        params: Type.Object({ layer: LayerParam }),
        querystring: TileQueryAll,
      },
    },
    async (req) => {
      const { layer } = req.params as { layer: VectorLayer };
      layerFilter(layer, req.query as TileQuery); // validate before advertising the URL
      const bounds = await layerBounds(app.deps.pool, layer);
      return tileJson({
        name: `skypatrol-${layer}`,
        description: LAYER_DESCRIPTIONS[layer],
        tiles: [`${origin(req)}/tiles/${layer}/{z}/{x}/{y}.mvt${queryString(req)}`],
        minzoom: 0,
        maxzoom: 16,
        bounds,
        vectorLayers: [
          {
            id: layer,
            description: LAYER_DESCRIPTIONS[layer],
            fields: LAYER_FIELDS[layer],
            minzoom: 0,
            maxzoom: 16,
          },
        ],
      });
    },
  );

  app.get(
    '/tiles/scenes/:id/:z/:x/:y.:format',
    {
      schema: {
        tags: ['tiles'],
        summary: 'Imagery tile of one scene (true colour, NIR-red-green false colour or NDVI)',
        params: Type.Object({
          id: Type.String({ pattern: SCENE_ID_PATTERN }),
          ...TileParams,
          format: FormatParam,
        }),
        querystring: Type.Object({
          mode: ModeQuery,
          max: Type.Optional(Type.Number({ minimum: 0.001, maximum: 10 })),
        }),
      },
    },
    async (req, reply) => {
      const p = req.params as { id: string; z: number; x: number; y: number; format: TileFormat };
      const q = req.query as { mode: TileMode; max?: number };
      const tile = tileOf(p);
      const rendered = await renderSceneTile(app.deps.pool, p.id, tile, {
        mode: q.mode,
        format: p.format,
        ...(q.max !== undefined ? { max: q.max } : {}),
      });
      if (!rendered)
        return reply.status(204).header('cache-control', `public, max-age=${IMAGERY_MAX_AGE}`).send();
      return sendCached(req, reply, rendered.body, rendered.contentType, IMAGERY_MAX_AGE, rendered.etag);
    },
  );

  app.get(
    '/tiles/scenes/:id.json',
    {
      schema: {
        tags: ['tiles'],
        summary: 'TileJSON 3.0 for one scene’s imagery tiles',
        params: Type.Object({ id: Type.String({ pattern: SCENE_ID_PATTERN }) }),
        querystring: Type.Object({ mode: ModeQuery, format: Type.Optional(FormatParam) }),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { mode: TileMode; format?: TileFormat };
      const info = await sceneTileInfo(app.deps.pool, id);
      return tileJson({
        name: `scene ${id} (${q.mode})`,
        tiles: [
          `${origin(req)}/tiles/scenes/${encodeURIComponent(id)}/{z}/{x}/{y}.${q.format ?? 'png'}?mode=${q.mode}`,
        ],
        minzoom: 6,
        maxzoom: 18,
        bounds: info.bbox,
      });
    },
  );

  app.get(
    '/tiles/mosaic/:z/:x/:y.:format',
    {
      schema: {
        tags: ['tiles'],
        summary:
          'Imagery mosaic of a time window (least cloudy scene first); 204 when no scene covers the tile',
        params: Type.Object({ ...TileParams, format: FormatParam }),
        querystring: Type.Object({
          from: Type.String(DATE),
          to: Type.String(DATE),
          mode: ModeQuery,
          sensor: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,40}(,[a-z0-9-]{1,40}){0,9}$' })),
          max_cloud: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
          max: Type.Optional(Type.Number({ minimum: 0.001, maximum: 10 })),
        }),
      },
    },
    async (req, reply) => {
      const p = req.params as { z: number; x: number; y: number; format: TileFormat };
      const q = req.query as {
        from: string;
        to: string;
        mode: TileMode;
        sensor?: string;
        max_cloud?: number;
        max?: number;
      };
      checkDates(q.from, q.to);
      const tile = tileOf(p);
      const result = await renderMosaicTile(
        app.deps.pool,
        tile,
        {
          from: q.from,
          to: q.to,
          ...(q.sensor ? { sensors: q.sensor.split(',') } : {}),
          ...(q.max_cloud !== undefined ? { maxCloud: q.max_cloud } : {}),
        },
        { mode: q.mode, format: p.format, ...(q.max !== undefined ? { max: q.max } : {}) },
      );
      if (!result) return reply.status(204).header('cache-control', 'public, max-age=300').send();
      reply.header('x-skypatrol-scenes', result.scenes.join(','));
      return sendCached(req, reply, result.tile.body, result.tile.contentType, 3600, result.tile.etag);
    },
  );
}

/**
 * Tiles, exports and statistics in one plugin, for app.ts:
 *   await app.register(tilesExportsStatsPlugin);
 */
export async function tilesExportsStatsPlugin(app: FastifyInstance): Promise<void> {
  await app.register(tileRoutes);
  await app.register(exportRoutes);
  await app.register(statsRoutes);
}
