import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SkypatrolError } from '../../../core/errors.ts';
import { CLUE_STATUSES } from '../../../domain/clues/status.ts';
import { buildPacket, selectBatchClues, streamBatch, zipPacket } from '../../../usecases/packet.ts';
import { authenticate, requireClueAccess } from '../plugins/auth.ts';
import { RowId } from './params.ts';

/**
 * Inspection packets over HTTP: one clue's packet zip, or a batch zip streamed as it is built.
 * Signed-in users only; every role may read packets of the clues it may see (a clue outside a
 * prosecutor's or field team's counties is 404, a batch for another county 403).
 */
export async function packetRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', authenticate);
  const options = () => ({
    detectorsDir: app.deps.config.detectorsDir,
    publicUrl: app.deps.config.publicUrl,
  });
  const who = (u: { username: string; role: string }) => `${u.username} (${u.role})`;

  app.get(
    '/clues/:id/packet',
    {
      schema: {
        tags: ['clues'],
        summary:
          'Inspection packet of a clue (zip: PDF, pictures, KML/GPX/GeoJSON, manifest.json + manifest.sha256)',
        params: Type.Object({ id: RowId }),
      },
      preHandler: requireClueAccess('read'),
    },
    async (req, reply) => {
      const { id } = req.params as { id: number };
      const p = await buildPacket(app.deps.pool, id, { ...options(), generatedBy: who(req.user!) });
      const zip = zipPacket(p);
      return reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="clue-${id}.zip"`)
        .header('cache-control', 'no-store')
        .send(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
    },
  );

  app.get(
    '/packets',
    {
      schema: {
        tags: ['clues'],
        summary: 'Batch of inspection packets (zip, one folder per clue) by county, status, scenario or ids',
        querystring: Type.Object(
          {
            county: Type.Optional(Type.String({ pattern: '^\\d{6}$' })),
            status: Type.Optional(Type.String({ enum: [...CLUE_STATUSES] })),
            scenario: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' })),
            ids: Type.Optional(Type.String({ pattern: '^\\d{1,15}(,\\d{1,15}){0,499}$' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const q = req.query as { county?: string; status?: string; scenario?: string; ids?: string };
      const ids = q.ids?.split(',').map(Number);
      if (ids?.some((n) => !Number.isSafeInteger(n) || n < 1))
        throw new SkypatrolError('VALIDATION', 'ids must be positive clue ids');
      const clues = await selectBatchClues(
        app.deps.pool,
        {
          ...(q.county ? { county: q.county } : {}),
          ...(q.status ? { status: q.status } : {}),
          ...(q.scenario ? { scenario: q.scenario } : {}),
          ...(ids ? { ids } : {}),
        },
        req.user!,
      );
      const body = new PassThrough();
      // A client that hangs up stops the building of the rest of the batch.
      const abort = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const name = `packets-${q.county ?? q.status ?? q.scenario ?? 'selection'}-${clues.length}.zip`;
      streamBatch(
        app.deps.pool,
        clues,
        { ...options(), generatedBy: who(req.user!) },
        (chunk) => {
          body.write(chunk);
        },
        undefined,
        abort.signal,
      ).then(
        () => body.end(),
        (err) => {
          // Headers are gone: cut the stream so the client sees a broken download, not a valid zip.
          if (abort.signal.aborted) req.log.info('packet batch stopped: the client went away');
          else req.log.error({ err }, 'packet batch failed');
          body.destroy(err as Error);
        },
      );
      return reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .header('x-packet-count', String(clues.length))
        .send(body);
    },
  );
}
