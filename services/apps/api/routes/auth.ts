import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  burnPasswordCheck,
  newApiToken,
  randomToken,
  sha256Hex,
  verifyPassword,
} from '../../../adapters/auth/crypto.ts';
import {
  createApiToken,
  createSession,
  deleteSession,
  findUserForLogin,
  listApiTokens,
  recentLoginFailures,
  recordLogin,
  revokeApiToken,
} from '../../../adapters/postgis/user-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { SESSION_TTL_SECONDS, sessionCookie } from '../../../domain/auth/credentials.ts';
import { authenticate, isHttps, noStore } from '../plugins/auth.ts';
import { RowId } from './params.ts';

/** Login rate limit: this many failures per username + IP within the window → 429. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_SECONDS = 15 * 60;

const Credentials = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const WRONG = 'wrong username or password';

export async function authRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in: sets the sp_session cookie and returns the CSRF token',
        body: Credentials,
      },
    },
    async (req, reply) => {
      noStore(reply);
      const pool = app.deps.pool;
      const body = req.body as { username: string; password: string };
      const username = body.username.trim().toLowerCase();
      const ip = req.ip ?? null;
      const failures = await recentLoginFailures(pool, username, ip, LOGIN_WINDOW_SECONDS);
      if (failures >= LOGIN_MAX_FAILURES) {
        await recordLogin(pool, { username, userId: null, success: false, reason: 'rate_limited', ip });
        reply.header('retry-after', String(LOGIN_WINDOW_SECONDS));
        throw new SkypatrolError('RATE_LIMITED', 'too many failed sign-ins; try again later');
      }
      const user = await findUserForLogin(pool, username);
      if (!user) {
        await burnPasswordCheck(body.password);
        await recordLogin(pool, { username, userId: null, success: false, reason: 'bad_credentials', ip });
        throw new SkypatrolError('UNAUTHORIZED', WRONG);
      }
      if (!(await verifyPassword(body.password, user.password_hash))) {
        await recordLogin(pool, { username, userId: user.id, success: false, reason: 'bad_credentials', ip });
        throw new SkypatrolError('UNAUTHORIZED', WRONG);
      }
      if (!user.active) {
        await recordLogin(pool, { username, userId: user.id, success: false, reason: 'inactive', ip });
        throw new SkypatrolError('UNAUTHORIZED', WRONG);
      }
      const sid = randomToken();
      const csrf = randomToken();
      const expiresAt = await createSession(pool, {
        idSha256: sha256Hex(sid),
        userId: user.id,
        csrfToken: csrf,
        ttlSeconds: SESSION_TTL_SECONDS,
        ip,
      });
      await recordLogin(pool, { username, userId: user.id, success: true, reason: 'ok', ip });
      reply.header(
        'set-cookie',
        sessionCookie(sid, { maxAgeSeconds: SESSION_TTL_SECONDS, secure: isHttps(req) }),
      );
      return {
        user: {
          id: user.id,
          username: user.username,
          display_name: user.display_name,
          role: user.role,
          counties: user.counties,
        },
        csrf_token: csrf,
        expires_at: expiresAt,
      };
    },
  );

  // Everything below needs a signed-in user.
  await app.register(async (authed) => {
    authed.addHook('onRequest', authenticate);

    authed.post(
      '/auth/logout',
      { schema: { tags: ['auth'], summary: 'Sign out (ends the cookie session)' } },
      async (req, reply) => {
        noStore(reply);
        if (req.user?.sessionSha256) await deleteSession(app.deps.pool, req.user.sessionSha256);
        reply.header('set-cookie', sessionCookie('', { maxAgeSeconds: 0, secure: isHttps(req) }));
        return reply.status(204).send();
      },
    );

    authed.get(
      '/auth/me',
      { schema: { tags: ['auth'], summary: 'The signed-in user (and the CSRF token of a cookie session)' } },
      async (req, reply) => {
        noStore(reply);
        const u = req.user!;
        return {
          id: u.id,
          username: u.username,
          display_name: u.displayName,
          role: u.role,
          counties: u.counties,
          via: u.via,
          ...(u.csrfToken ? { csrf_token: u.csrfToken } : {}),
        };
      },
    );

    authed.post(
      '/auth/tokens',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create an API token for scripts (shown once)',
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 100 }),
              expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req, reply) => {
        noStore(reply);
        const body = req.body as { name: string; expires_in_days?: number };
        const token = newApiToken();
        const row = await createApiToken(app.deps.pool, {
          tokenSha256: sha256Hex(token),
          userId: req.user!.id,
          name: body.name,
          ttlDays: body.expires_in_days ?? null,
        });
        return reply.status(201).send({ ...row, token });
      },
    );

    authed.get(
      '/auth/tokens',
      { schema: { tags: ['auth'], summary: "The signed-in user's API tokens (never the secrets)" } },
      async (req) => listApiTokens(app.deps.pool, req.user!.id),
    );

    authed.delete(
      '/auth/tokens/:tokenId',
      {
        schema: {
          tags: ['auth'],
          summary: 'Revoke an API token (yours; admins: anyone’s)',
          params: Type.Object({ tokenId: RowId }),
        },
      },
      async (req, reply) => {
        const { tokenId } = req.params as { tokenId: number };
        const u = req.user!;
        const ok = await revokeApiToken(app.deps.pool, tokenId, u.role === 'admin' ? null : u.id);
        if (!ok) throw new SkypatrolError('NOT_FOUND', `token ${tokenId} does not exist`);
        return reply.status(204).send();
      },
    );
  });
}
