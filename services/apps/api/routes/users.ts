import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { hashPassword } from '../../../adapters/auth/crypto.ts';
import { createUser, getUser, listUsers, updateUser } from '../../../adapters/postgis/user-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { passwordProblem } from '../../../domain/auth/credentials.ts';
import { ROLES, type Role, validateCounties } from '../../../domain/clues/review.ts';
import { authenticate, requireRole } from '../plugins/auth.ts';
import { RowId } from './params.ts';

const RoleSchema = Type.String({ enum: [...ROLES] });
const Counties = Type.Array(Type.String({ pattern: '^[0-9]{6}$' }), { maxItems: 200, uniqueItems: true });
const Username = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,62}$' });

export async function userRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', authenticate);
  app.addHook('onRequest', requireRole('admin'));

  app.get('/users', { schema: { tags: ['users'], summary: 'Users (admin only)' } }, async () =>
    listUsers(app.deps.pool),
  );

  app.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user (admin only)',
        body: Type.Object(
          {
            username: Username,
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            role: RoleSchema,
            counties: Type.Optional(Counties),
            display_name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const b = req.body as {
        username: string;
        password: string;
        role: Role;
        counties?: string[];
        display_name?: string;
      };
      const problem = passwordProblem(b.password) ?? validateCounties(b.role, b.counties ?? []);
      if (problem) throw new SkypatrolError('VALIDATION', problem);
      const user = await createUser(app.deps.pool, {
        username: b.username,
        displayName: b.display_name ?? '',
        passwordHash: await hashPassword(b.password),
        role: b.role,
        counties: b.counties ?? [],
      });
      return reply.status(201).send(user);
    },
  );

  app.patch(
    '/users/:userId',
    {
      schema: {
        tags: ['users'],
        summary: 'Change role, counties, active, display name or password (admin only)',
        params: Type.Object({ userId: RowId }),
        body: Type.Object(
          {
            role: Type.Optional(RoleSchema),
            counties: Type.Optional(Counties),
            active: Type.Optional(Type.Boolean()),
            display_name: Type.Optional(Type.String({ maxLength: 200 })),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (req) => {
      const { userId } = req.params as { userId: number };
      const b = req.body as {
        role?: Role;
        counties?: string[];
        active?: boolean;
        display_name?: string;
        password?: string;
      };
      const current = await getUser(app.deps.pool, userId);
      if (!current) throw new SkypatrolError('NOT_FOUND', `user ${userId} does not exist`);
      const problem =
        (b.password !== undefined ? passwordProblem(b.password) : null) ??
        validateCounties(b.role ?? current.role, b.counties ?? current.counties);
      if (problem) throw new SkypatrolError('VALIDATION', problem);
      if (current.id === req.user!.id && (b.active === false || (b.role && b.role !== 'admin')))
        throw new SkypatrolError('CONFLICT', 'an admin cannot demote or deactivate themselves');
      const updated = await updateUser(app.deps.pool, userId, {
        ...(b.role !== undefined ? { role: b.role } : {}),
        ...(b.counties !== undefined ? { counties: b.counties } : {}),
        ...(b.active !== undefined ? { active: b.active } : {}),
        ...(b.display_name !== undefined ? { displayName: b.display_name } : {}),
        ...(b.password !== undefined ? { passwordHash: await hashPassword(b.password) } : {}),
      });
      if (!updated) throw new SkypatrolError('NOT_FOUND', `user ${userId} does not exist`);
      return updated;
    },
  );
}
