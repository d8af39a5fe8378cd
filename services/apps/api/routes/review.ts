import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sha256Hex } from '../../../adapters/auth/crypto.ts';
import {
  addAttachment,
  commentClue,
  getAttachment,
  listClueEvents,
  setCluePriority,
  transitionClue,
} from '../../../adapters/postgis/review-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { PRIORITY_MAX, PRIORITY_MIN } from '../../../domain/clues/review.ts';
import { CLUE_STATUSES, type ClueStatus, DISMISS_REASONS } from '../../../domain/clues/status.ts';
import { authenticate, requireClueAccess } from '../plugins/auth.ts';
import { authRoutes } from './auth.ts';
import { RowId } from './params.ts';
import { userRoutes } from './users.ts';

/** Field photos: at most this many bytes, of these types (checked on the bytes, not the name). */
export const ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024;
export const ATTACHMENT_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;

/** The image type the bytes really are (magic numbers), or null. */
export function sniffImage(b: Buffer): (typeof ATTACHMENT_TYPES)[number] | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP')
    return 'image/webp';
  return null;
}

const ClueId = Type.Object({ id: RowId });
const Comment = Type.String({ minLength: 1, maxLength: 4000 });

function safeFilename(raw: string | undefined, mime: string): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = [...base]
    .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch !== '\u007f' && ch !== '"')
    .join('')
    .trim()
    .slice(0, 255);
  return clean || `photo.${mime.split('/')[1]}`;
}

async function reviewRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', authenticate);

  app.post(
    '/clues/:id/transitions',
    {
      schema: {
        tags: ['review'],
        summary: 'Move a clue through the workflow (dismissing needs a reason)',
        params: ClueId,
        body: Type.Object(
          {
            to: Type.String({ enum: [...CLUE_STATUSES] }),
            reason: Type.Optional(Type.String({ enum: [...DISMISS_REASONS] })),
            comment: Type.Optional(Comment),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: number };
      const b = req.body as { to: ClueStatus; reason?: string; comment?: string };
      return transitionClue(app.deps.pool, req.user!, {
        clueId: id,
        to: b.to,
        reason: b.reason ?? null,
        comment: b.comment ?? null,
      });
    },
  );

  app.post(
    '/clues/:id/comments',
    {
      schema: {
        tags: ['review'],
        summary: 'Comment on a clue',
        params: ClueId,
        body: Type.Object({ text: Comment }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: number };
      const { text } = req.body as { text: string };
      return reply.status(201).send(await commentClue(app.deps.pool, req.user!, id, text));
    },
  );

  app.post(
    '/clues/:id/priority',
    {
      schema: {
        tags: ['review'],
        summary: 'Set the priority of a clue (0 lowest – 3 highest)',
        params: ClueId,
        body: Type.Object(
          {
            priority: Type.Integer({ minimum: PRIORITY_MIN, maximum: PRIORITY_MAX }),
            comment: Type.Optional(Comment),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: number };
      const b = req.body as { priority: number; comment?: string };
      return setCluePriority(app.deps.pool, req.user!, id, b.priority, b.comment ?? null);
    },
  );

  app.get(
    '/clues/:id/events',
    {
      schema: { tags: ['review'], summary: 'The event history of a clue', params: ClueId },
      preHandler: requireClueAccess('read'),
    },
    async (req) => listClueEvents(app.deps.pool, (req.params as { id: number }).id),
  );

  app.get(
    '/clues/:id/attachments/:aid',
    {
      schema: {
        tags: ['review'],
        summary: 'Download an attachment (field photo)',
        params: Type.Object({ id: RowId, aid: Type.String({ maxLength: 64 }) }),
      },
      preHandler: requireClueAccess('read'),
    },
    async (req, reply) => {
      const { id, aid } = req.params as { id: number; aid: string };
      const a = await getAttachment(app.deps.pool, id, aid);
      if (!a) throw new SkypatrolError('NOT_FOUND', `attachment ${aid} of clue ${id} does not exist`);
      return reply
        .type(a.mime)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `inline; filename="${encodeURIComponent(a.filename)}"`)
        .header('etag', `"${a.sha256}"`)
        .header('cache-control', 'private, max-age=3600')
        .send(a.content);
    },
  );

  // Upload: the photo is the raw request body (Content-Type image/jpeg|png|webp), so this
  // context parses every body itself, counting bytes, and refuses past the limit.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (req: FastifyRequest, payload, done) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > ATTACHMENT_MAX_BYTES) {
        payload.resume();
        done(tooLarge(), undefined);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let finished = false;
      payload.on('data', (c: Buffer) => {
        if (finished) return;
        size += c.length;
        if (size > ATTACHMENT_MAX_BYTES) {
          finished = true;
          done(tooLarge(), undefined);
          return;
        }
        chunks.push(c);
      });
      payload.on('end', () => {
        if (!finished) {
          finished = true;
          done(null, Buffer.concat(chunks));
        }
      });
      payload.on('error', (err) => {
        if (!finished) {
          finished = true;
          done(err, undefined);
        }
      });
    });

    upload.post(
      '/clues/:id/attachments',
      {
        schema: {
          tags: ['review'],
          summary: 'Attach a field photo: the raw JPEG/PNG/WebP bytes as the body (≤ 10 MB)',
          params: ClueId,
          querystring: Type.Object(
            {
              filename: Type.Optional(Type.String({ maxLength: 255 })),
              caption: Type.Optional(Comment),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: number };
        const q = req.query as { filename?: string; caption?: string };
        const declared = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (!(ATTACHMENT_TYPES as readonly string[]).includes(declared))
          throw new SkypatrolError(
            'UNSUPPORTED_MEDIA_TYPE',
            `attachments must be ${ATTACHMENT_TYPES.join(', ')}; got "${declared || 'no Content-Type'}"`,
          );
        if (body.length === 0) throw new SkypatrolError('VALIDATION', 'the attachment is empty');
        const actual = sniffImage(body);
        if (actual !== declared)
          throw new SkypatrolError(
            'UNSUPPORTED_MEDIA_TYPE',
            `the content is ${actual ?? 'not a JPEG, PNG or WebP image'}, not ${declared}`,
          );
        const saved = await addAttachment(app.deps.pool, req.user!, id, {
          filename: safeFilename(q.filename, actual),
          mime: actual,
          content: body,
          sha256: sha256Hex(body),
          caption: q.caption ?? null,
        });
        return reply.status(201).send(saved);
      },
    );
  });
}

function tooLarge(): SkypatrolError {
  return new SkypatrolError('PAYLOAD_TOO_LARGE', `attachments are limited to ${ATTACHMENT_MAX_BYTES} bytes`);
}

/**
 * Users, sessions, tokens and the review actions: register once on the app, before ready
 * (`await app.register(reviewPlugin)`). Encapsulated: decorates `request.user` on its own
 * routes only; the app's error handler formats its errors.
 */
export async function reviewPlugin(app: FastifyInstance): Promise<void> {
  app.decorateRequest('user', null);
  await app.register(authRoutes);
  await app.register(userRoutes);
  await app.register(reviewRoutes);
}
