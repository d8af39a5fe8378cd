import { createHash } from 'node:crypto';

/**
 * The packet manifest: every file of a packet with its size and SHA-256, plus the chain of
 * custody (hashes of the input scene assets and of the model). `manifest.sha256` holds the
 * manifest's own hash in `sha256sum` format, so changing any byte of any member — the
 * manifest included — is detected, by `packet verify` or by `sha256sum -c`.
 * Pure: works on bytes in memory.
 */

export const PACKET_FORMAT = 'skypatrol-packet/1';
export const MANIFEST = 'manifest.json';
export const MANIFEST_SHA = 'manifest.sha256';

export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface AssetHash {
  href: string;
  sha256: string;
}

export interface PacketCustody {
  /** When the scene hashes were recorded: with the clue at detection, or when packing. */
  recorded: 'at_detection' | 'at_packet_time';
  scenes: Record<string, Record<string, AssetHash>>;
  /** Scenes named by the clue that are no longer in the catalog, or could not be hashed. */
  unavailable: { sceneId: string; reason: string }[];
  model: { detector: string; version: string; sha256: string | null };
}

export interface PacketManifest {
  format: typeof PACKET_FORMAT;
  kind: 'packet' | 'batch';
  generatedAt: string;
  generatedBy: string;
  /** Clue ids in this packet (one) or batch (each in its own folder `clue-<id>/`). */
  clues: number[];
  files: ManifestFile[];
  /** Single packets only. */
  custody?: PacketCustody;
  /** Batches only: the folder of each clue's packet, each with its own manifest. */
  packets?: { clueId: number; dir: string }[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function fileEntry(path: string, bytes: Uint8Array): ManifestFile {
  return { path, bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
}

/** The manifest's bytes: stable key order as built, files sorted by path, 2-space JSON. */
export function manifestBytes(m: PacketManifest): Uint8Array {
  const sorted = {
    ...m,
    files: [...m.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
  return new TextEncoder().encode(`${JSON.stringify(sorted, null, 2)}\n`);
}

/** `manifest.sha256` content: `<hex>  manifest.json`, as `sha256sum` writes it. */
export function manifestShaBytes(manifest: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`${sha256Hex(manifest)}  ${MANIFEST}\n`);
}

export interface VerifyProblem {
  /** Member path within the zip. */
  path: string;
  problem: 'hash_mismatch' | 'size_mismatch' | 'missing' | 'unlisted' | 'manifest_unreadable';
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  kind: 'packet' | 'batch' | null;
  /** Files whose hash was recomputed and matched. */
  checked: number;
  problems: VerifyProblem[];
  clues: number[];
}

function parseManifest(bytes: Uint8Array): PacketManifest | null {
  try {
    const m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as PacketManifest;
    if (m?.format !== PACKET_FORMAT || !Array.isArray(m.files)) return null;
    for (const f of m.files)
      if (typeof f?.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.bytes !== 'number')
        return null;
    return m;
  } catch {
    return null;
  }
}

/**
 * Check one packet folder (`prefix` '' or 'clue-12/'): the manifest against manifest.sha256,
 * then every listed file against its recorded size and hash. Problems are keyed by path so a
 * file named by two manifests (a batch's and its packet's) is reported once.
 */
function verifyFolder(
  members: Map<string, Uint8Array>,
  prefix: string,
  problems: Map<string, VerifyProblem>,
  checked: Set<string>,
): PacketManifest | null {
  const add = (p: VerifyProblem) => {
    if (!problems.has(p.path)) problems.set(p.path, p);
  };
  const mPath = `${prefix}${MANIFEST}`;
  const sPath = `${prefix}${MANIFEST_SHA}`;
  const mBytes = members.get(mPath);
  if (!mBytes) {
    add({ path: mPath, problem: 'missing', detail: 'no manifest.json' });
    return null;
  }
  const sBytes = members.get(sPath);
  if (!sBytes) add({ path: sPath, problem: 'missing', detail: 'no manifest.sha256' });
  else {
    const recorded = /^([0-9a-f]{64})\s/.exec(new TextDecoder().decode(sBytes))?.[1] ?? null;
    const actual = sha256Hex(mBytes);
    if (recorded === null)
      add({ path: sPath, problem: 'manifest_unreadable', detail: 'manifest.sha256 holds no SHA-256' });
    else if (recorded !== actual)
      add({
        path: mPath,
        problem: 'hash_mismatch',
        detail: `manifest.json hashes to ${actual}, manifest.sha256 records ${recorded}`,
      });
    else if (
      sBytes.byteLength !== manifestShaBytes(mBytes).byteLength ||
      new TextDecoder().decode(sBytes) !== new TextDecoder().decode(manifestShaBytes(mBytes))
    )
      add({ path: sPath, problem: 'hash_mismatch', detail: 'manifest.sha256 was altered' });
    else {
      checked.add(mPath);
      checked.add(sPath);
    }
  }
  const m = parseManifest(mBytes);
  if (!m) {
    add({
      path: mPath,
      problem: 'manifest_unreadable',
      detail: 'manifest.json is not a Skypatrol packet manifest',
    });
    return null;
  }
  for (const f of m.files) {
    const path = `${prefix}${f.path}`;
    const b = members.get(path);
    if (!b) {
      add({ path, problem: 'missing', detail: 'listed in the manifest, absent from the packet' });
      continue;
    }
    const sha = sha256Hex(b);
    if (sha !== f.sha256)
      add({ path, problem: 'hash_mismatch', detail: `SHA-256 ${sha}, manifest records ${f.sha256}` });
    else if (b.byteLength !== f.bytes)
      add({ path, problem: 'size_mismatch', detail: `${b.byteLength} bytes, manifest records ${f.bytes}` });
    else checked.add(path);
  }
  return m;
}

/**
 * Verify a packet or batch given its members (path → bytes): every hash recomputed, every
 * member listed, nothing missing. A batch's own manifest lists every file of every packet,
 * and each packet folder is checked against its own manifest too.
 */
export function verifyMembers(members: Map<string, Uint8Array>): VerifyResult {
  const problems = new Map<string, VerifyProblem>();
  const checked = new Set<string>();
  const top = verifyFolder(members, '', problems, checked);
  const listed = new Set<string>([MANIFEST, MANIFEST_SHA, ...(top?.files.map((f) => f.path) ?? [])]);
  if (top?.kind === 'batch') {
    for (const p of top.packets ?? []) {
      const dir = p.dir.endsWith('/') ? p.dir : `${p.dir}/`;
      const sub = verifyFolder(members, dir, problems, checked);
      for (const f of sub?.files ?? []) listed.add(`${dir}${f.path}`);
      listed.add(`${dir}${MANIFEST}`);
      listed.add(`${dir}${MANIFEST_SHA}`);
    }
  }
  if (top) {
    for (const path of members.keys()) {
      if (path.endsWith('/')) continue; // directory entries
      if (!listed.has(path))
        problems.set(path, { path, problem: 'unlisted', detail: 'in the packet but not in its manifest' });
    }
  }
  const list = [...problems.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const p of list) checked.delete(p.path);
  return {
    ok: list.length === 0,
    kind: top?.kind ?? null,
    checked: checked.size,
    problems: list,
    clues: top?.clues ?? [],
  };
}
