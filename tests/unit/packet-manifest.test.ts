import { describe, expect, it } from 'vitest';
import {
  fileEntry,
  MANIFEST,
  MANIFEST_SHA,
  manifestBytes,
  manifestShaBytes,
  PACKET_FORMAT,
  type PacketManifest,
  sha256Hex,
  verifyMembers,
} from '../../services/domain/packets/manifest.ts';

const enc = new TextEncoder();

function packet(files: Record<string, string>, prefix = ''): Map<string, Uint8Array> {
  const members = new Map<string, Uint8Array>();
  const entries = Object.entries(files).map(([p, text]) => {
    const bytes = enc.encode(text);
    members.set(`${prefix}${p}`, bytes);
    return fileEntry(p, bytes);
  });
  const m: PacketManifest = {
    format: PACKET_FORMAT,
    kind: 'packet',
    generatedAt: '2026-01-01T00:00:00.000Z',
    generatedBy: 'test',
    clues: [7],
    files: entries,
  };
  const mb = manifestBytes(m);
  members.set(`${prefix}${MANIFEST}`, mb);
  members.set(`${prefix}${MANIFEST_SHA}`, manifestShaBytes(mb));
  return members;
}

function flip(members: Map<string, Uint8Array>, path: string, at = 0): Map<string, Uint8Array> {
  const copy = new Map(members);
  const b = Uint8Array.from(copy.get(path)!);
  b[at] = b[at]! ^ 1;
  copy.set(path, b);
  return copy;
}

describe('packet manifest', () => {
  const files = { 'clue-7.pdf': '%PDF-1.3 …', 'clue-7.kml': '<kml/>', 'images/before.png': 'PNG' };

  it('verifies an untouched packet and counts every file', () => {
    const r = verifyMembers(packet(files));
    expect(r).toEqual({ ok: true, kind: 'packet', checked: 5, problems: [], clues: [7] });
  });

  it('names the file when one byte of any member changes, the manifest included', () => {
    for (const path of Object.keys(files)) {
      const r = verifyMembers(flip(packet(files), path, 1));
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual([expect.objectContaining({ path, problem: 'hash_mismatch' })]);
    }
    const m = verifyMembers(flip(packet(files), MANIFEST, 30));
    expect(m.ok).toBe(false);
    expect(m.problems[0]!.path).toBe(MANIFEST);
    const s = verifyMembers(flip(packet(files), MANIFEST_SHA, 3));
    expect(s.ok).toBe(false);
    expect(s.problems.map((p) => p.detail).join(' ')).toContain(MANIFEST_SHA);
  });

  it('reports missing and unlisted members and a missing manifest', () => {
    const members = packet(files);
    members.delete('clue-7.kml');
    members.set('extra.txt', enc.encode('x'));
    const r = verifyMembers(members);
    expect(r.problems.map((p) => [p.path, p.problem])).toEqual([
      ['clue-7.kml', 'missing'],
      ['extra.txt', 'unlisted'],
    ]);
    const none = verifyMembers(new Map([['a.txt', enc.encode('a')]]));
    expect(none.ok).toBe(false);
    expect(none.problems[0]).toMatchObject({ path: MANIFEST, problem: 'missing' });
  });

  it('checks a batch: its own manifest and each packet folder', () => {
    const a = packet(files, 'clue-1/');
    const b = packet({ 'clue-2.pdf': 'two' }, 'clue-2/');
    const members = new Map([...a, ...b]);
    const m: PacketManifest = {
      format: PACKET_FORMAT,
      kind: 'batch',
      generatedAt: '2026-01-01T00:00:00.000Z',
      generatedBy: 'test',
      clues: [1, 2],
      files: [...members].map(([p, bytes]) => fileEntry(p, bytes)),
      packets: [
        { clueId: 1, dir: 'clue-1/' },
        { clueId: 2, dir: 'clue-2/' },
      ],
    };
    const mb = manifestBytes(m);
    members.set(MANIFEST, mb);
    members.set(MANIFEST_SHA, manifestShaBytes(mb));
    expect(verifyMembers(members)).toMatchObject({ ok: true, kind: 'batch', clues: [1, 2] });
    const bad = verifyMembers(flip(members, 'clue-2/clue-2.pdf'));
    expect(bad.problems).toEqual([
      expect.objectContaining({ path: 'clue-2/clue-2.pdf', problem: 'hash_mismatch' }),
    ]);
  });

  it('writes manifest.sha256 in sha256sum format', () => {
    const mb = enc.encode('{}\n');
    expect(new TextDecoder().decode(manifestShaBytes(mb))).toBe(`${sha256Hex(mb)}  manifest.json\n`);
  });
});
