/**
 * `npm run bench`, last step: docs/benchmarks.md gathers every benchmark section
 * (docs/benchmarks-*.md, each written by its own script with machine and date).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const DOCS = resolve(import.meta.dirname, '../../docs');
const parts = (await readdir(DOCS)).filter((f) => /^benchmarks-.+\.md$/.test(f)).sort();
const sections: string[] = [
  '# Benchmarks',
  '',
  'Written by `npm run bench`; each section names its machine and date. Timings are measured here, never asserted in tests.',
  '',
];
for (const f of parts) {
  const text = (await readFile(join(DOCS, f), 'utf8')).replace(/^# /m, '## ').replace(/\n## /g, '\n### ');
  sections.push(`<!-- from ${f} -->`, text.trim(), '');
}
await writeFile(join(DOCS, 'benchmarks.md'), sections.join('\n'));
console.log(`docs/benchmarks.md: ${parts.join(', ')}`);
