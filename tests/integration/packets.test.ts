import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import type { FastifyInstance } from 'fastify';
import { unzipSync, zipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { insertClues } from '../../services/adapters/postgis/clue-store.ts';
import { withTransaction } from '../../services/adapters/postgis/pool.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { packetVerifyCommand } from '../../services/apps/cli/commands/packet.ts';
import { loadConfig } from '../../services/core/config.ts';
import { formatLatLonDms, parseDms } from '../../services/domain/packets/coordinates.ts';
import { clueNumber, fmt } from '../../services/domain/packets/document.ts';
import type { PacketManifest } from '../../services/domain/packets/manifest.ts';
import { simulate } from '../../services/simulator/simulate.ts';
import { addStac } from '../../services/usecases/catalog.ts';
import { custodyFor } from '../../services/usecases/custody.ts';
import type { ClueFeature } from '../../services/usecases/detect-pair.ts';
import { importZones } from '../../services/usecases/import-zones.ts';
import { verifyPacketBytes, zipManifestSha256 } from '../../services/usecases/packet.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildTestApp } from '../support/test-app.ts';

/**
 * Inspection packets on a real fixture: the small simulated region (real COGs + STAC, real
 * zoning and county layers), clues stored by the project's own insertClues from planted
 * damage polygons, then packets made by the CLI and the API and checked with real tools:
 * pdftotext/pdftoppm/pdffonts (poppler), an XML parser for KML and GPX, PostGIS for areas.
 */

const COUNTY_A = '150781'; // 满洲里市: EV-001, EV-002, EV-022
const COUNTY_B = '150703'; // 扎赉诺尔区: EV-004

let db: TestDatabase;
let sim: string;
let out: string;
let app: FastifyInstance;
const clue: Record<string, number> = {};
const tokens: Record<string, string> = {};

const has = (cmd: string) => {
  try {
    execFileSync(cmd, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const env = () => ({ DATABASE_URL: db.url, SKYPATROL_PUBLIC_URL: 'https://skypatrol.example.cn/app' });

type Truth = { features: { properties: { id: string; scenario: string }; geometry: unknown }[] };

async function storeClue(
  event: { properties: { scenario: string }; geometry: unknown },
  inputs: Record<string, unknown>,
  before: string,
  after: string,
): Promise<number> {
  const feature = {
    type: 'Feature',
    geometry: event.geometry,
    properties: {
      scenario: event.properties.scenario,
      confidence: 0.8731,
      first_seen: '2024-06-30',
      last_seen: '2025-08-19',
      detector: 'change',
      model_version: '0.1.0',
      model_sha256: 'a61b4ea6bbb2dd1cbf6e4d39377630237e73b30b9fefd8cb5cf87b6a981c9f64',
      before_scene: before,
      after_scene: after,
    },
  } as unknown as ClueFeature;
  const ids = await withTransaction(db.pool, (client) =>
    insertClues(client, [feature], { actor: 'patrol-test', inputs }),
  );
  return ids[0]!;
}

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await mkdtemp(join(tmpdir(), 'skypatrol-packets-sim-'));
  out = await mkdtemp(join(tmpdir(), 'skypatrol-packets-out-'));
  await simulate({ out: sim, size: 'small', seed: 7 });
  const cat = await addStac(db.pool, join(sim, 'catalog.json'));
  expect(cat.failed).toEqual([]);
  for (const kind of ['admin_division', 'temporary_land_permit', 'mining_permit', 'forest_land'] as const)
    await importZones(db.pool, { file: join(sim, 'zoning', `${kind}.geojson`), kind });
  const scenes = (from: string, to: string) =>
    db.pool
      .query<{ id: string }>(
        "SELECT id FROM scenes WHERE sensor = 'sentinel-2-l2a' AND datetime >= $1 AND datetime < $2::date + 1 ORDER BY datetime",
        [from, to],
      )
      .then((r) => r.rows.map((x) => x.id));
  const before = await scenes('2024-06-01', '2024-06-30');
  const after = await scenes('2025-06-01', '2025-08-31');
  const truth = JSON.parse(await readFile(join(sim, 'truth.geojson'), 'utf8')) as Truth;
  const ev = (id: string) => truth.features.find((f) => f.properties.id === id)!;
  const inputs = { tile: 'fixture', before, after };
  // EV-001: what a queue patrol stores — the custody record made at detection.
  const custody = await custodyFor(db.pool, [...before, ...after]);
  clue.permit = await storeClue(ev('EV-001'), { ...inputs, custody }, before[0]!, after.at(-1)!);
  clue.nearby = await storeClue(ev('EV-002'), inputs, before[0]!, after.at(-1)!);
  clue.mine = await storeClue(ev('EV-022'), inputs, before[0]!, after.at(-1)!);
  clue.otherCounty = await storeClue(ev('EV-004'), inputs, before[0]!, after.at(-1)!);
  await db.pool.query(
    `INSERT INTO clue_events (clue_id, actor, kind, from_status, to_status, comment) VALUES ($1, 'analyst1', 'transition', 'new', 'in_review', '需现场核查')`,
    [clue.permit],
  );
  await db.pool.query("UPDATE clues SET status = 'in_review' WHERE id = $1", [clue.permit]);

  const hash = await hashPassword('correct horse battery');
  for (const [name, role, counties] of [
    ['admin', 'admin', []],
    ['prosa', 'prosecutor', [COUNTY_A]],
    ['prosb', 'prosecutor', [COUNTY_B]],
    ['fielda', 'field', [COUNTY_A]],
  ] as const) {
    const u = await createUser(db.pool, {
      username: name,
      passwordHash: hash,
      role,
      counties: [...counties],
    });
    const t = newApiToken();
    await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 'test', ttlDays: null });
    tokens[name] = t;
  }
  app = await buildTestApp(db.url, db.pool);
}, 180_000);

afterAll(async () => {
  await app?.close();
  await db?.drop();
  await rm(sim, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

describe('a packet made by the CLI', () => {
  let dir: string;
  let zipPath: string;
  let text: string;

  beforeAll(async () => {
    const r = await runCli(['packet', String(clue.permit), '--out', out], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    dir = join(out, `clue-${clue.permit}`);
    zipPath = join(out, `clue-${clue.permit}.zip`);
    if (!has('pdftotext'))
      throw new Error('pdftotext missing: apt-get install poppler-utils (npm test installs it)');
    text = execFileSync('pdftotext', ['-enc', 'UTF-8', join(dir, `clue-${clue.permit}.pdf`), '-'], {
      encoding: 'utf8',
    });
  }, 120_000);

  it('prints the required Chinese fields with the numbers of the database', async () => {
    const { rows } = await db.pool.query(
      `SELECT area_m2, area_ha, area_mu, confidence, model_version, ST_Area(geom::geography) AS geog,
              ST_X(ST_Centroid(geom::geography)::geometry) AS lon, ST_Y(ST_Centroid(geom::geography)::geometry) AS lat
         FROM clues WHERE id = $1`,
      [clue.permit],
    );
    const c = rows[0];
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain(`线索编号 Clue No. ${clueNumber(clue.permit!)}`);
    expect(flat).toContain('临时用地未复垦');
    expect(flat).toContain('满洲里市');
    expect(flat).toContain(COUNTY_A);
    expect(flat).toContain(`${fmt.m2(c.area_m2)} 平方米`);
    expect(flat).toContain(`${fmt.ha(c.area_ha)} 公顷`);
    expect(flat).toContain(`${fmt.mu(c.area_mu)} 亩`);
    expect(flat).toContain(`置信度 Confidence ${fmt.confidence(c.confidence)}`);
    expect(flat).toContain(`模型版本 Model version ${c.model_version}`);
    expect(flat).toContain(`${c.lat.toFixed(6)}°N, ${c.lon.toFixed(6)}°E`);
    expect(flat).toContain(formatLatLonDms([c.lon, c.lat]));
    // The permit it overlaps, with holder and deadline; the legal basis; checklist; signatures.
    expect(flat).toContain('LS-2024-001');
    const permit = await db.pool.query(
      "SELECT properties FROM zones WHERE properties->>'permit_no' = 'LS-2024-001'",
    );
    const p = permit.rows[0].properties;
    expect(flat).toContain(String(p.holder).slice(0, 6));
    expect(flat).toContain(`reclaim by ${p.reclaim_by}`);
    expect(flat).toContain('土地管理法');
    expect(flat).toContain('四个方向');
    expect(flat).toContain('签字 Signature');
    expect(flat).toContain('审查记录');
    expect(flat).toContain('需现场核查');
    expect(flat).toContain('输入影像哈希于检测时记录');
    expect(flat).toContain('https://skypatrol.example.cn/app/#clue=');
    // The printed area agrees with PostGIS ST_Area(geography) within 0.5 %.
    const printed = Number(/([\d.]+) 平方米/.exec(flat)![1]);
    expect(Math.abs(printed - c.geog) / c.geog).toBeLessThan(0.005);
    // Printed DMS parses back to the centroid (0.01″ ≈ 0.3 m).
    const dms = /(\d+°\d+′[\d.]+″N), (\d+°\d+′[\d.]+″E)/.exec(flat)!;
    expect(parseDms(dms[1]!)).toBeCloseTo(c.lat, 5);
    expect(parseDms(dms[2]!)).toBeCloseTo(c.lon, 5);
  });

  it('embeds the CJK font as a subset, on A4 pages', () => {
    const fonts = execFileSync('pdffonts', [join(dir, `clue-${clue.permit}.pdf`)], { encoding: 'utf8' });
    expect(fonts).toMatch(/[A-Z]{6}\+NotoSansCJKsc-Regular\s+CID Type 0C\s+Identity-H\s+yes yes yes/);
    const info = execFileSync('pdfinfo', [join(dir, `clue-${clue.permit}.pdf`)], { encoding: 'utf8' });
    expect(info).toMatch(/Page size:\s+595\.28 x 841\.89 pts \(A4\)/);
  });

  it('renders before and after chips from the COGs that are not blank and show the outline', async () => {
    const prefix = join(out, 'page');
    execFileSync('pdftoppm', [
      '-r',
      '72',
      '-f',
      '2',
      '-l',
      '2',
      '-png',
      join(dir, `clue-${clue.permit}.pdf`),
      prefix,
    ]);
    const page = await readFile(`${prefix}-2.png`).catch(() => readFile(`${prefix}-02.png`));
    // The two chips sit side by side below the page-2 heading (A4 at 72 dpi: 1 px per point).
    const meta = await sharp(page).metadata();
    expect(Math.abs(meta.width! - 595)).toBeLessThanOrEqual(1);
    for (const left of [42, 310]) {
      const crop = await sharp(page)
        .extract({ left: left + 20, top: 110, width: 200, height: 180 })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const stats = await sharp(crop.data, { raw: crop.info }).stats();
      const sd = stats.channels.slice(0, 3).map((ch) => ch.stdev);
      expect(Math.max(...sd)).toBeGreaterThan(3);
    }
    // The separate chip images: real variance, the red outline drawn near the centre.
    for (const name of ['before', 'after', 'overview']) {
      const png = await readFile(join(dir, 'images', `${name}.png`));
      const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const stats = await sharp(data, { raw: info }).stats();
      expect(Math.max(...stats.channels.map((ch) => ch.stdev))).toBeGreaterThan(3);
      let red = 0;
      for (let i = 0; i < data.length; i += 3)
        if (data[i]! > 220 && data[i + 1]! < 80 && data[i + 2]! < 80) red++;
      expect(red).toBeGreaterThan(20);
    }
  });

  it('writes KML and GPX that parse with a real XML parser and match the clue', async () => {
    const { rows } = await db.pool.query(
      `SELECT ST_AsGeoJSON(geom, 8) AS g, ST_X(ST_Centroid(geom::geography)::geometry) AS lon,
              ST_Y(ST_Centroid(geom::geography)::geometry) AS lat FROM clues WHERE id = $1`,
      [clue.permit],
    );
    const ring = (JSON.parse(rows[0].g).coordinates[0][0] as number[][]).map(([x, y]) => [x!, y!]);
    const parse = (xml: string) =>
      new DOMParser({
        onError: (level, msg) => {
          if (level !== 'warning') throw new Error(msg);
        },
      }).parseFromString(xml, 'text/xml');
    const kml = parse(await readFile(join(dir, `clue-${clue.permit}.kml`), 'utf8'));
    const coords = Array.from(kml.getElementsByTagName('coordinates')).map((e) =>
      (e.textContent ?? '')
        .trim()
        .split(/\s+/)
        .map((p) => p.split(',').map(Number)),
    );
    expect(coords[0]!.length).toBe(ring.length);
    coords[0]!.forEach(([x, y], i) => {
      expect(x).toBeCloseTo(ring[i]![0]!, 7);
      expect(y).toBeCloseTo(ring[i]![1]!, 7);
    });
    const point = coords.find((c) => c.length === 1)!;
    expect(point[0]![0]).toBeCloseTo(rows[0].lon, 6);
    expect(point[0]![1]).toBeCloseTo(rows[0].lat, 6);
    expect(kml.getElementsByTagName('Placemark').length).toBeGreaterThanOrEqual(2);

    const gpx = parse(await readFile(join(dir, `clue-${clue.permit}.gpx`), 'utf8'));
    expect(gpx.documentElement?.getAttribute('version')).toBe('1.1');
    const wpt = gpx.getElementsByTagName('wpt')[0]!;
    expect(Number(wpt.getAttribute('lat'))).toBeCloseTo(rows[0].lat, 6);
    expect(Number(wpt.getAttribute('lon'))).toBeCloseTo(rows[0].lon, 6);
    const trkpts = Array.from(gpx.getElementsByTagName('trkpt'));
    expect(trkpts.length).toBe(ring.length);
    expect(Number(trkpts[0]!.getAttribute('lon'))).toBeCloseTo(ring[0]![0]!, 7);
    expect(Number(trkpts.at(-1)!.getAttribute('lat'))).toBeCloseTo(ring.at(-1)![1]!, 7);

    const gj = JSON.parse(await readFile(join(dir, `clue-${clue.permit}.geojson`), 'utf8'));
    expect(gj.features[0].geometry).toEqual(JSON.parse(rows[0].g));
  });

  it('verify passes untouched and fails naming the file when one byte changes', async () => {
    // The command in process for the untouched zip (a CLI process below for the altered one).
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((m: unknown) => {
      lines.push(String(m));
    });
    try {
      expect(await packetVerifyCommand(loadConfig(env()), zipPath)).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(process.exitCode ?? 0).toBe(0);
    expect(lines.join('\n')).toMatch(/^OK: 9 file\(s\) match/);
    // …and the system's own record of issuing it (append-only packet_issues).
    const sha = createHash('sha256')
      .update(unzipSync(await readFile(zipPath))['manifest.json']!)
      .digest('hex');
    expect(lines.join('\n')).toContain(`by cli:`);
    expect(lines.join('\n')).toContain(`manifest SHA-256 ${sha}`);
    await expect(db.pool.query('DELETE FROM packet_issues')).rejects.toThrow(/append-only/);
    const members = unzipSync(await readFile(zipPath));
    const alter = (target: string) => {
      const altered = { ...members, [target]: Uint8Array.from(members[target]!) };
      const b = altered[target]!;
      b[Math.floor(b.length / 2)] = b[Math.floor(b.length / 2)]! ^ 0x01;
      return zipSync(altered);
    };
    // Through the CLI once (exit code and the file named)…
    const bad = join(out, 'altered.zip');
    await writeFile(bad, alter(`clue-${clue.permit}.pdf`));
    const r = await runCli(['packet', 'verify', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`MISMATCH clue-${clue.permit}.pdf: hash_mismatch`);
    expect(r.stdout).not.toContain('OK:');
    // …and the same check in process for every other kind of member, manifest included.
    for (const target of [
      `clue-${clue.permit}.gpx`,
      'images/before.png',
      'manifest.json',
      'manifest.sha256',
    ]) {
      const v = verifyPacketBytes(alter(target));
      expect(v.ok, target).toBe(false);
      const named = v.problems.map((p) => `${p.path} ${p.detail}`).join('\n');
      expect(named, target).toContain(target);
    }
    const extra = verifyPacketBytes(zipSync({ ...members, 'evil.txt': new TextEncoder().encode('x') }));
    expect(extra.problems).toEqual([expect.objectContaining({ path: 'evil.txt', problem: 'unlisted' })]);
    const { [`clue-${clue.permit}.kml`]: _gone, ...rest } = members;
    const missing = verifyPacketBytes(zipSync(rest));
    expect(missing.problems).toEqual([
      expect.objectContaining({ path: `clue-${clue.permit}.kml`, problem: 'missing' }),
    ]);
  });

  it('records custody: the detection record, the model, and every file hash', async () => {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as PacketManifest;
    expect(m.custody!.recorded).toBe('at_detection');
    expect(m.custody!.model.sha256).toBe('a61b4ea6bbb2dd1cbf6e4d39377630237e73b30b9fefd8cb5cf87b6a981c9f64');
    const scene = Object.keys(m.custody!.scenes)[0]!;
    const red = m.custody!.scenes[scene]!.red!;
    const bytes = await readFile(fileURLToPath(red.href));
    expect(red.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    for (const f of m.files) {
      const b = await readFile(join(dir, f.path));
      expect(createHash('sha256').update(b).digest('hex')).toBe(f.sha256);
    }
    const line = await readFile(join(dir, 'manifest.sha256'), 'utf8');
    expect(line).toBe(
      `${createHash('sha256')
        .update(await readFile(join(dir, 'manifest.json')))
        .digest('hex')}  manifest.json\n`,
    );
  });
});

describe('custodyFor', () => {
  it('computes missing hashes once and stores them in the catalog', async () => {
    const { rows } = await db.pool.query<{ id: string; mask: { href: string } }>(
      "SELECT id, mask FROM scenes WHERE sensor = 'sentinel-2-l2a' ORDER BY id LIMIT 1",
    );
    const id = rows[0]!.id;
    await db.pool.query("UPDATE scenes SET mask = mask - 'sha256' - 'sha256_at' WHERE id = $1", [id]);
    const first = await custodyFor(db.pool, [id, 'no-such-scene']);
    expect(Object.keys(first)).toEqual([id]);
    const scl = first[id]!.scl!;
    const expected = createHash('sha256')
      .update(await readFile(fileURLToPath(rows[0]!.mask.href)))
      .digest('hex');
    expect(scl.sha256).toBe(expected);
    const stored = await db.pool.query(
      "SELECT mask->>'sha256' AS sha, mask->>'sha256_at' AS at FROM scenes WHERE id = $1",
      [id],
    );
    expect(stored.rows[0].sha).toBe(expected);
    const again = await custodyFor(db.pool, [id]);
    expect(again).toEqual({ [id]: first[id] });
    const after = await db.pool.query("SELECT mask->>'sha256_at' AS at FROM scenes WHERE id = $1", [id]);
    expect(after.rows[0].at).toBe(stored.rows[0].at);
  });
});

describe('packets over the API', () => {
  it('refuses the anonymous (401), unknown clues (404) and clues outside the county (404); batches of another county are 403', async () => {
    expect((await app.inject({ url: `/clues/${clue.permit}/packet` })).statusCode).toBe(401);
    const unknown = await app.inject({ url: '/clues/999999/packet', headers: bearer(tokens.admin!) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    const other = await app.inject({
      url: `/clues/${clue.otherCounty}/packet`,
      headers: bearer(tokens.prosa!),
    });
    expect(other.statusCode).toBe(404);
    const batch = await app.inject({ url: `/packets?county=${COUNTY_A}`, headers: bearer(tokens.prosb!) });
    expect(batch.statusCode).toBe(403);
    expect(batch.json().code).toBe('FORBIDDEN');
    const bad = await app.inject({ url: '/packets?county=abc', headers: bearer(tokens.admin!) });
    expect(bad.statusCode).toBe(400);
  });

  it('gives a field team of the county a verifiable packet zip (custody recorded at packet time)', async () => {
    const res = await app.inject({ url: `/clues/${clue.mine}/packet`, headers: bearer(tokens.fielda!) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    const v = verifyPacketBytes(res.rawPayload);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.clues).toEqual([clue.mine]);
    const members = unzipSync(res.rawPayload);
    const m = JSON.parse(new TextDecoder().decode(members['manifest.json'])) as PacketManifest;
    expect(m.custody!.recorded).toBe('at_packet_time');
    expect(m.generatedBy).toBe('fielda (field)');
    expect(Object.keys(members)).toContain(`clue-${clue.mine}.pdf`);
  });

  it('batches a county as one zip with one packet per clue', async () => {
    const res = await app.inject({ url: `/packets?county=${COUNTY_A}`, headers: bearer(tokens.prosa!) });
    expect(res.statusCode).toBe(200);
    const expected = (
      await db.pool.query<{ id: string }>('SELECT id FROM clues WHERE county_adcode = $1 ORDER BY id', [
        COUNTY_A,
      ])
    ).rows.map((r) => Number(r.id));
    expect(expected).toEqual([clue.permit, clue.nearby, clue.mine].sort((a, b) => a! - b!));
    expect(res.headers['x-packet-count']).toBe(String(expected.length));
    const v = verifyPacketBytes(res.rawPayload);
    expect(v.problems).toEqual([]);
    expect(v.kind).toBe('batch');
    const issued = await db.pool.query(
      'SELECT kind, clue_ids, generated_by FROM packet_issues WHERE manifest_sha256 = $1',
      [zipManifestSha256(res.rawPayload)],
    );
    expect(issued.rows).toEqual([
      { kind: 'batch', clue_ids: expected.map(String), generated_by: 'prosa (prosecutor)' },
    ]);
    const members = Object.keys(unzipSync(res.rawPayload));
    const folders = [...new Set(members.filter((p) => p.includes('/')).map((p) => p.split('/')[0]))].sort();
    expect(folders).toEqual(expected.map((id) => `clue-${id}`).sort());
    for (const id of expected) {
      expect(members).toContain(`clue-${id}/clue-${id}.pdf`);
      expect(members).toContain(`clue-${id}/manifest.json`);
    }
  }, 120_000);
});
