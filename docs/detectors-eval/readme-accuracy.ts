/**
 * Writes each scenario detector's measured accuracy into its README from `skypatrol eval`
 * reports, so the figures in detectors/<id>/README.md are the ones the reports hold:
 *
 *   npx tsx docs/detectors-eval/readme-accuracy.ts docs/detectors-eval/report.json \
 *     docs/detectors-eval/check-seeds-105-108/report.json docs/detectors-eval/check-seeds-109-112/report.json
 *
 * The first report is the held-out one the README's paragraph describes (seeds 101–104); the
 * others become one "Also checked on" line each; `report.json=note` says how far a check's seeds
 * are held out (default: never used for training or threshold choice). Replaced: from the "- **Multi-label**" line to
 * the line before "Reproduce:" in the "Measured accuracy" section; the rest is left as it is.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvalReport } from '../../services/usecases/eval.ts';

type Scores = EvalReport['detectors'][number]['overall'];

const [main, ...checks] = process.argv.slice(2);
if (!main) {
  console.error('usage: readme-accuracy.ts <held-out report.json> [<check report.json> …]');
  process.exit(2);
}
const read = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as EvalReport;
const held = await read(main);
// `report.json=note`: how far the check's seeds are held out (default: not used at all).
const others = await Promise.all(
  checks.map(async (c) => {
    const [p, note] = c.split('=') as [string, string | undefined];
    return { r: await read(p), note: note ?? 'never used for training or threshold choice' };
  }),
);
const f3 = (v: number) => v.toFixed(3);
const pct = (hit: number, total: number) => `${total ? ((100 * hit) / total).toFixed(1) : '0.0'} %`;
const prf = (m: Scores) => `${f3(m.precision)} / ${f3(m.recall)} / ${f3(m.f1)}`;
const seedsOf = (r: EvalReport) => {
  const s = r.regions.map((x) => x.seed);
  return s.every(Number.isFinite) && s.length > 1 && s.at(-1)! - s[0]! === s.length - 1
    ? `${s[0]}–${s.at(-1)}`
    : s.join(', ');
};

for (const d of held.detectors) {
  if (d.detector === 'change') continue;
  const path = join('detectors', d.detector, 'README.md');
  const text = await readFile(path, 'utf8');
  const start = text.indexOf('- **Multi-label**');
  const end = text.indexOf('Reproduce: `skypatrol eval', start);
  if (start < 0 || end < 0) throw new Error(`${path}: no measured-accuracy block to replace`);
  const n = d.named;
  const o = d.overall;
  const lines = [
    `- **Multi-label** (every clue that names this scenario against every unlawful change its law covers, truth \`also_scenarios\`; [why](../../docs/detectors-eval/multi-label.md)): precision **${f3(n.precision)}**, recall **${f3(n.recall)}**, F1 **${f3(n.f1)}**; TP ${n.tp}, FP ${n.fp}, FN ${n.fn}.`,
    `- Primary label (the clue's own scenario against the simulator's single label): precision ${f3(o.precision)}, recall ${f3(o.recall)}, F1 ${f3(o.f1)}, pixel IoU ${f3(o.pixelIoU)}; TP ${o.tp}, FP ${o.fp}, FN ${o.fn}.`,
    `- Decoy false-clue rate ${pct(o.decoysHit, o.decoys)} (${o.decoysHit}/${o.decoys}); all eight together: ${held.decoys.hit} of ${held.decoys.total} decoys became a clue of some scenario (${pct(held.decoys.hit, held.decoys.total)}). A detection that matches a planted unlawful event is not counted against a decoy it overlaps (cloud-shadow decoys are whole shadows of one scene, up to several km²).`,
  ];
  for (const { r, note } of others) {
    const c = r.detectors.find((x) => x.detector === d.detector);
    if (!c) continue;
    const cn = c.named;
    lines.push(
      `- Also checked on seeds ${seedsOf(r)} (same conditions; ${note}): multi-label F1 ${f3(cn.f1)} (TP ${cn.tp}, FP ${cn.fp}, FN ${cn.fn}), primary F1 ${f3(c.overall.f1)}; all eight together ${r.decoys.hit} of ${r.decoys.total} decoys (${pct(r.decoys.hit, r.decoys.total)}).`,
    );
  }
  lines.push(
    '',
    '| condition | multi-label P / R / F1 | primary P / R / F1 | pixel IoU | decoy rate |',
    '|---|---|---|---|---|',
  );
  for (const [cond, m] of Object.entries(d.conditions)) {
    const nm = d.namedConditions[cond] ?? m;
    lines.push(`| ${cond} | ${prf(nm)} | ${prf(m)} | ${f3(m.pixelIoU)} | ${pct(m.decoysHit, m.decoys)} |`);
  }
  lines.push(
    '',
    `Precision–recall over thresholds (${d.prCondition} condition, primary label): ${d.pr
      .map((p) => `${p.threshold} → P ${f3(p.precision)} / R ${f3(p.recall)}`)
      .join('; ')}.`,
    '',
    '',
  );
  await writeFile(path, text.slice(0, start) + lines.join('\n') + text.slice(end));
  console.log(`${path}: multi-label F1 ${f3(n.f1)}, primary ${f3(o.f1)}`);
}
