import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listDetectorIds, readManifest } from '../../../adapters/files/detector-registry.ts';
import { listVersions, summarize } from '../../../usecases/detector-versions.ts';

/**
 * Detector catalogue for the analysts' pages: every detector with its version, threshold,
 * minimum mapping unit, zoning rule and held-out accuracy; one detector's manifest, full
 * metrics (incl. the precision–recall curve points) and versions. Read-only.
 */
const Id = Type.Object({ id: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }) });

async function metricsOf(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function detectorRoutes(app: FastifyInstance): Promise<void> {
  const dir = () => app.deps.config.detectorsDir;

  app.get(
    '/detectors',
    {
      schema: {
        tags: ['detectors'],
        summary: 'Detectors: id, names, version, threshold, MMU, zoning rule, held-out accuracy',
      },
    },
    async () => {
      const out = [];
      for (const id of await listDetectorIds(dir())) {
        const { manifest, dir: ddir } = await readManifest(dir(), id);
        out.push({
          id,
          name: manifest.name,
          version: manifest.version,
          threshold: manifest.threshold,
          minAreaM2: manifest.minAreaM2,
          zoning: manifest.zoning,
          legalBasis: manifest.legalBasis,
          priorityWeight: manifest.priorityWeight,
          metrics: summarize(await metricsOf(ddir)),
        });
      }
      return { detectors: out };
    },
  );

  app.get(
    '/detectors/:id',
    {
      schema: {
        tags: ['detectors'],
        summary: 'One detector: manifest, metrics (PR curve points), versions',
        params: Id,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { manifest, dir: ddir } = await readManifest(dir(), id);
      return { manifest, metrics: await metricsOf(ddir), versions: await listVersions(dir(), id) };
    },
  );

  app.get(
    '/detectors/:id/versions',
    {
      schema: {
        tags: ['detectors'],
        summary: 'Versions of a detector with settings and held-out accuracy',
        params: Id,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return { id, versions: await listVersions(dir(), id) };
    },
  );
}
