import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SkypatrolError } from './errors.ts';

/**
 * Configuration, parsed once from the environment at start-up and passed in from there.
 * Every key is documented in the README ("Configuration").
 */
/** The installation's root (where package.json is): the folder defaults below are relative to it. */
export const INSTALL_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const EnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .url()
    .refine((u) => /^postgres(ql)?:/.test(u), 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/skypatrol'),
  REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:/.test(u), 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  SKYPATROL_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  SKYPATROL_HOST: z.string().min(1).default('127.0.0.1'),
  SKYPATROL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SKYPATROL_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+$/, 'letters, digits, _ : - only')
    .default('skypatrol'),
  SKYPATROL_DETECTORS_DIR: z.string().min(1).default(join(INSTALL_ROOT, 'detectors')),
  SKYPATROL_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  SKYPATROL_ONNX_THREADS: z.coerce.number().int().min(0).max(64).default(0),
  SKYPATROL_WEB_DIR: z.string().min(1).default(join(INSTALL_ROOT, 'web/dist')),
  SKYPATROL_SHARED_DATA: z.string().min(1).default(join(INSTALL_ROOT, '../shared/data')),
  SKYPATROL_REQUIRE_LOGIN: z.enum(['true', 'false']).optional(),
  SKYPATROL_PUBLIC_URL: z
    .string()
    .url()
    .refine((u) => /^https?:/.test(u), 'must be an http(s):// URL')
    .default('http://localhost:8080'),
  SKYPATROL_JOB_LOCK_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  SKYPATROL_RECONCILE_MS: z.coerce.number().int().min(200).max(3_600_000).default(30_000),
  SKYPATROL_MAX_TILES: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  SKYPATROL_ZONE_GATE: z.enum(['on', 'off']).default('on'),
  SKYPATROL_SMTP_URL: z
    .string()
    .url()
    .refine((u) => /^smtps?:/.test(u), 'must be an smtp:// or smtps:// URL')
    .optional(),
  SKYPATROL_MAIL_FROM: z.string().min(3).optional(),
  SKYPATROL_WEBHOOK_ALLOW_NETS: z
    .string()
    .refine(
      (v) => parseNetList(v) !== null,
      'comma-separated IP networks, e.g. 127.0.0.0/8,10.20.0.0/16,::1/128',
    )
    .optional(),
});

/**
 * SKYPATROL_WEBHOOK_ALLOW_NETS: "a.b.c.d/n, x:y::/n, a.b.c.d" → the networks (null when one is
 * not an IP network with a valid prefix length). Empty or unset: none.
 */
export function parseNetList(v: string | undefined): string[] | null {
  const nets = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of nets) {
    const [addr = '', bits, extra] = n.split('/');
    const family = isIP(addr);
    if (!family || extra !== undefined) return null;
    if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)))
      return null;
  }
  return nets;
}

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  queuePrefix: string;
  detectorsDir: string;
  workerConcurrency: number;
  /** Intra-op threads per ONNX session; 0 lets onnxruntime pick (one per core). */
  onnxThreads: number;
  webDir: string;
  /** Read-only reference data (OSCD pairs, real rasters, Hulunbuir geography). */
  sharedDataDir: string;
  /** Anonymous readers get 401 when true (default: true when NODE_ENV=production). */
  requireLogin: boolean;
  /** Base URL of the web app as users reach it (packet QR codes link to `<base>/#clue=<id>`). */
  publicUrl: string;
  /** A tile job's lock; a job whose worker died is taken up again after about this long. */
  jobLockMs: number;
  /** How often workers re-check PostGIS against the queue (tiles lost with a Redis restart). */
  reconcileMs: number;
  /** Largest patrol, in analysis tiles (≈ 105 km² each); larger AOIs are refused. */
  maxTiles: number;
  /**
   * Skip, per tile, the detectors whose zoning rule could keep no clue there (default on;
   * SKYPATROL_ZONE_GATE=off runs every detector everywhere, e.g. to compare: the clues are the same).
   */
  zoneGate: boolean;
  /** SMTP server for notification e-mail (smtp:// or smtps://); unset: e-mail is not sent. */
  smtpUrl?: string;
  /** From: of notification e-mail (default "天巡 Skypatrol <skypatrol@localhost>"). */
  mailFrom?: string;
  /**
   * Networks webhooks may reach although loopback, link-local or private (the SSRF guard
   * refuses those by default): SKYPATROL_WEBHOOK_ALLOW_NETS, e.g. ["10.20.0.0/16"].
   */
  webhookAllowNets: string[];
}

/** Parse configuration from an environment map; throws CONFIG_INVALID naming every bad key. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SkypatrolError('CONFIG_INVALID', `invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    port: e.SKYPATROL_PORT,
    host: e.SKYPATROL_HOST,
    logLevel: e.SKYPATROL_LOG_LEVEL,
    queuePrefix: e.SKYPATROL_QUEUE_PREFIX,
    detectorsDir: e.SKYPATROL_DETECTORS_DIR,
    workerConcurrency: e.SKYPATROL_WORKER_CONCURRENCY,
    onnxThreads: e.SKYPATROL_ONNX_THREADS,
    webDir: e.SKYPATROL_WEB_DIR,
    sharedDataDir: e.SKYPATROL_SHARED_DATA,
    requireLogin: e.SKYPATROL_REQUIRE_LOGIN
      ? e.SKYPATROL_REQUIRE_LOGIN === 'true'
      : cleaned.NODE_ENV === 'production',
    publicUrl: e.SKYPATROL_PUBLIC_URL,
    jobLockMs: e.SKYPATROL_JOB_LOCK_MS,
    reconcileMs: e.SKYPATROL_RECONCILE_MS,
    maxTiles: e.SKYPATROL_MAX_TILES,
    zoneGate: e.SKYPATROL_ZONE_GATE === 'on',
    ...(e.SKYPATROL_SMTP_URL ? { smtpUrl: e.SKYPATROL_SMTP_URL } : {}),
    ...(e.SKYPATROL_MAIL_FROM ? { mailFrom: e.SKYPATROL_MAIL_FROM } : {}),
    webhookAllowNets: parseNetList(e.SKYPATROL_WEBHOOK_ALLOW_NETS) ?? [],
  };
}
