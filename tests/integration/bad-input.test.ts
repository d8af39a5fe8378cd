import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, oscd } from '../support/shared-data.ts';

/**
 * Bad scene folders: one line on stderr naming the problem with a stable code, a non-zero
 * exit, no output file, nothing stored.
 */
let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-bad-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A copy of a real scene folder with some bands left out or replaced. */
async function sceneCopy(
  name: string,
  mutate: (files: string[], target: string) => Promise<void>,
): Promise<string> {
  const src = oscd('bercy', 'imgs_2');
  const target = join(dir, name);
  await mkdir(target, { recursive: true });
  const files = (await readdir(src)).filter((f) => f.endsWith('.tif'));
  for (const f of files) await copyFile(join(src, f), join(target, f));
  await mutate(files, target);
  return target;
}

async function expectCleanFailure(after: string, code: RegExp, mentions: RegExp) {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}.geojson`);
  const r = await runCli(
    ['detect', '--before', oscd('bercy', 'imgs_1'), '--after', after, '--out', out, '--store'],
    {
      DATABASE_URL: db.url,
    },
  );
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(code);
  expect(lines[0]).toMatch(mentions);
  expect(existsSync(out)).toBe(false);
  const { rows } = await db.pool.query(
    'SELECT (SELECT count(*) FROM clues)::int AS clues, (SELECT count(*) FROM scenes)::int AS scenes',
  );
  expect(rows[0]).toEqual({ clues: 0, scenes: 0 });
}

describeShared('bad scene folders', () => {
  it('a missing band names the band', async () => {
    const s = await sceneCopy('missing-b04', async (files, t) => {
      await rm(join(t, files.find((f) => f.endsWith('_B04.tif'))!));
    });
    await expectCleanFailure(s, /^skypatrol: SCENE_MISSING_BAND: /, /B04/);
  });

  it('a band file that is not a TIFF names the file', async () => {
    const s = await sceneCopy('not-tiff', async (files, t) => {
      await writeFile(
        join(t, files.find((f) => f.endsWith('_B08.tif'))!),
        'this is a text file, not an image\n',
      );
    });
    await expectCleanFailure(s, /^skypatrol: SCENE_NOT_TIFF: /, /_B08\.tif is not a TIFF/);
  });

  it('a truncated TIFF is reported as corrupt', async () => {
    const s = await sceneCopy('truncated', async (files, t) => {
      const f = join(t, files.find((x) => x.endsWith('_B03.tif'))!);
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(f);
      await writeFile(f, bytes.subarray(0, 600));
    });
    await expectCleanFailure(s, /^skypatrol: SCENE_CORRUPT: /, /_B03\.tif/);
  });

  it('an empty folder says it holds no band files', async () => {
    const s = join(dir, 'empty');
    await mkdir(s);
    await expectCleanFailure(s, /^skypatrol: SCENE_EMPTY: /, /no band files/);
  });

  it('a folder that does not exist says so', async () => {
    await expectCleanFailure(join(dir, 'nope'), /^skypatrol: SCENE_NOT_FOUND: /, /does not exist/);
  });

  it('an unknown detector lists the available ones', async () => {
    const r = await runCli([
      'detect',
      '--before',
      oscd('bercy', 'imgs_1'),
      '--after',
      oscd('bercy', 'imgs_2'),
      '--detector',
      'nonesuch',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(
      /^skypatrol: DETECTOR_UNKNOWN: unknown detector "nonesuch" \(available: .*change/,
    );
  });
});
