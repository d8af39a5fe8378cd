import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SkypatrolError } from '../../../core/errors.ts';
import { CLUE_STATUSES } from '../../../domain/clues/status.ts';
import { cluesExtentFor, getClueFor, queryCluesFor } from '../plugins/auth.ts';
import { Offset, parseBbox, parseDatetime, RowId } from './params.ts';

/**
 * OGC API – Features, Part 1 (Core + GeoJSON), so QGIS and GDAL open the clues directly:
 * add `http://host:8080/ogc` as a WFS / OGC API – Features connection.
 */
const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
];

function base(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? req.protocol;
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

export async function ogcRoutes(app: FastifyInstance): Promise<void> {
  const collection = async (req: FastifyRequest) => {
    const root = `${base(req)}/ogc`;
    const extent = await cluesExtentFor(req, app.deps.pool);
    return {
      id: 'clues',
      title: '线索 Clues',
      description: 'Suspect change polygons found by Skypatrol detectors',
      itemType: 'feature',
      crs: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84'],
      extent: {
        spatial: {
          bbox: [extent ?? [-180, -90, 180, 90]],
          crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
        },
      },
      links: [
        {
          href: `${root}/collections/clues`,
          rel: 'self',
          type: 'application/json',
          title: 'this collection',
        },
        {
          href: `${root}/collections/clues/items`,
          rel: 'items',
          type: 'application/geo+json',
          title: 'clues',
        },
      ],
    };
  };

  app.get('/', { schema: { tags: ['ogc'], summary: 'OGC API landing page' } }, async (req) => {
    const root = `${base(req)}/ogc`;
    return {
      title: 'Skypatrol 天巡 — OGC API Features',
      description: 'Clues found on satellite imagery',
      links: [
        { href: root, rel: 'self', type: 'application/json', title: 'this document' },
        {
          href: `${base(req)}/openapi.json`,
          rel: 'service-desc',
          type: 'application/vnd.oai.openapi+json;version=3.0',
          title: 'API definition',
        },
        { href: `${base(req)}/docs`, rel: 'service-doc', type: 'text/html', title: 'API documentation' },
        {
          href: `${root}/conformance`,
          rel: 'conformance',
          type: 'application/json',
          title: 'conformance classes',
        },
        { href: `${root}/collections`, rel: 'data', type: 'application/json', title: 'collections' },
      ],
    };
  });

  app.get('/conformance', { schema: { tags: ['ogc'], summary: 'Conformance classes' } }, async () => ({
    conformsTo: CONFORMANCE,
  }));

  app.get('/collections', { schema: { tags: ['ogc'], summary: 'Feature collections' } }, async (req) => ({
    links: [{ href: `${base(req)}/ogc/collections`, rel: 'self', type: 'application/json' }],
    collections: [await collection(req)],
  }));

  app.get(
    '/collections/:collectionId',
    {
      schema: {
        tags: ['ogc'],
        summary: 'One collection',
        params: Type.Object({ collectionId: Type.String() }),
      },
    },
    async (req) => {
      const { collectionId } = req.params as { collectionId: string };
      if (collectionId !== 'clues') throw new SkypatrolError('NOT_FOUND', `no collection "${collectionId}"`);
      return collection(req);
    },
  );

  app.get(
    '/collections/:collectionId/items',
    {
      schema: {
        tags: ['ogc'],
        summary: 'Clues as GeoJSON features',
        params: Type.Object({ collectionId: Type.String() }),
        querystring: Type.Object({
          bbox: Type.Optional(Type.String({ description: 'west,south,east,north in CRS84' })),
          datetime: Type.Optional(Type.String({ description: 'instant or interval (a/b, ../b, a/..)' })),
          limit: Type.Integer({ minimum: 1, maximum: 10000, default: 100 }),
          offset: Offset,
          scenario: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,64}$', description: 'scenario id' })),
          status: Type.Optional(Type.String({ enum: [...CLUE_STATUSES] })),
        }),
      },
    },
    async (req, reply) => {
      const { collectionId } = req.params as { collectionId: string };
      if (collectionId !== 'clues') throw new SkypatrolError('NOT_FOUND', `no collection "${collectionId}"`);
      const q = req.query as {
        bbox?: string;
        datetime?: string;
        limit: number;
        offset: number;
        scenario?: string;
        status?: string;
      };
      const { total, rows } = await queryCluesFor(req, app.deps.pool, {
        ...(q.bbox ? { bbox: parseBbox(q.bbox) } : {}),
        ...(q.datetime ? parseDatetime(q.datetime) : {}),
        ...(q.scenario ? { scenario: q.scenario } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: q.limit,
        offset: q.offset,
      });
      const self = new URL(`${base(req)}${req.url}`);
      const page = (offset: number) => {
        const u = new URL(self);
        u.searchParams.set('offset', String(offset));
        u.searchParams.set('limit', String(q.limit));
        return u.toString();
      };
      const links: Record<string, string>[] = [
        { href: self.toString(), rel: 'self', type: 'application/geo+json' },
      ];
      if (q.offset + rows.length < total)
        links.push({ href: page(q.offset + q.limit), rel: 'next', type: 'application/geo+json' });
      if (q.offset > 0)
        links.push({
          href: page(Math.max(0, q.offset - q.limit)),
          rel: 'prev',
          type: 'application/geo+json',
        });
      reply.type('application/geo+json');
      return {
        type: 'FeatureCollection',
        features: rows.map((r) => ({
          type: 'Feature',
          id: r.id,
          geometry: r.geometry,
          properties: r.properties,
        })),
        numberMatched: total,
        numberReturned: rows.length,
        timeStamp: new Date().toISOString(),
        links,
      };
    },
  );

  app.get(
    '/collections/:collectionId/items/:featureId',
    {
      schema: {
        tags: ['ogc'],
        summary: 'One clue',
        params: Type.Object({ collectionId: Type.String(), featureId: RowId }),
      },
    },
    async (req, reply) => {
      const { collectionId, featureId } = req.params as { collectionId: string; featureId: number };
      if (collectionId !== 'clues') throw new SkypatrolError('NOT_FOUND', `no collection "${collectionId}"`);
      const clue = await getClueFor(req, app.deps.pool, featureId);
      if (!clue) throw new SkypatrolError('NOT_FOUND', `clue ${featureId} does not exist`);
      reply.type('application/geo+json');
      return { type: 'Feature', id: clue.id, geometry: clue.geometry, properties: clue.properties };
    },
  );
}
