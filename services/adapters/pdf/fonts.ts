import { readFile } from 'node:fs/promises';
import { create, type FontkitFont } from 'fontkit';
import { SkypatrolError } from '../../core/errors.ts';

/**
 * The CJK font packets embed (as a subset): Noto Sans CJK SC from Debian's `fonts-noto-cjk`
 * (installed by scripts/setup.sh), one face of an OpenType collection selected by PostScript
 * name. It is parsed once per process and the parsed font handed to every document (pdfkit
 * accepts a fontkit font): parsing the collection costs about 0.3 s.
 */
export interface CjkFont {
  path: string;
  postscript: string;
  font: FontkitFont;
}

const DIRS = [
  '/usr/share/fonts/opentype/noto',
  '/usr/share/fonts/noto-cjk',
  '/usr/share/fonts/google-noto-cjk',
];
const FILE = 'NotoSansCJK-Regular.ttc';
const POSTSCRIPT = 'NotoSansCJKsc-Regular';

let cached: Promise<CjkFont> | null = null;

async function load(): Promise<CjkFont> {
  for (const dir of DIRS) {
    const path = `${dir}/${FILE}`;
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      continue;
    }
    const font = create(data, POSTSCRIPT);
    if (font?.postscriptName !== POSTSCRIPT)
      throw new SkypatrolError('INTERNAL', `${path} has no face ${POSTSCRIPT}`);
    return { path, postscript: POSTSCRIPT, font };
  }
  throw new SkypatrolError(
    'INTERNAL',
    `inspection packets need the Noto Sans CJK font (${FILE}) in ${DIRS.join(' or ')}: install the Debian package fonts-noto-cjk (scripts/setup.sh does)`,
  );
}

/** The parsed font, loaded once per process. */
export function cjkFont(): Promise<CjkFont> {
  if (!cached) {
    cached = load();
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}
