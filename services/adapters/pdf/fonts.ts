import { readFile } from 'node:fs/promises';
import { SkypatrolError } from '../../core/errors.ts';

/**
 * The CJK font packets embed (as a subset): Noto Sans CJK from Debian's `fonts-noto-cjk`
 * (installed by scripts/setup.sh), an OpenType collection selected by PostScript name.
 */
export interface CjkFont {
  regular: { data: Buffer; postscript: string; path: string };
}

const DIRS = [
  '/usr/share/fonts/opentype/noto',
  '/usr/share/fonts/noto-cjk',
  '/usr/share/fonts/google-noto-cjk',
];
const FACES = {
  regular: { file: 'NotoSansCJK-Regular.ttc', postscript: 'NotoSansCJKsc-Regular' },
} as const;

let cached: Promise<CjkFont> | null = null;

async function load(): Promise<CjkFont> {
  const find = async (file: string) => {
    for (const dir of DIRS) {
      const path = `${dir}/${file}`;
      try {
        return { data: await readFile(path), path };
      } catch {}
    }
    return null;
  };
  const regular = await find(FACES.regular.file);
  if (!regular)
    throw new SkypatrolError(
      'INTERNAL',
      `inspection packets need the Noto Sans CJK font (${FACES.regular.file}) in ${DIRS.join(' or ')}: install the Debian package fonts-noto-cjk (scripts/setup.sh does)`,
    );
  return { regular: { ...regular, postscript: FACES.regular.postscript } };
}

/** The font files, read once per process. */
export function cjkFont(): Promise<CjkFont> {
  if (!cached) {
    cached = load();
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}
