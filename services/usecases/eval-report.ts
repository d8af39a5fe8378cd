import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { DetectorEval, EvalReport, Scores } from './eval.ts';

/**
 * The evaluation report as files: `report.json`, `report.md` (tables per scenario and
 * condition) and `pr-curve.png` (precision–recall over thresholds, one line per detector,
 * drawn as SVG and rasterised with sharp).
 */
const COLORS = [
  '#1b9e77',
  '#d95f02',
  '#7570b3',
  '#e7298a',
  '#66a61e',
  '#e6ab02',
  '#a6761d',
  '#666666',
  '#1f78b4',
  '#b2182b',
];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function prCurveSvg(detectors: DetectorEval[], title: string): string {
  const W = 900;
  const H = 640;
  const L = 70;
  const T = 50;
  const S = 500;
  const x = (r: number) => L + r * S;
  const y = (p: number) => T + (1 - p) * S;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="30" font-size="18">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 10; k++) {
    const v = k / 10;
    parts.push(
      `<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(1)}" stroke="#eee"/>`,
      `<line x1="${x(0)}" y1="${y(v)}" x2="${x(1)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${x(v)}" y="${y(0) + 18}" font-size="11" text-anchor="middle">${v.toFixed(1)}</text>`,
      `<text x="${x(0) - 8}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${x(0)}" y="${y(1)}" width="${S}" height="${S}" fill="none" stroke="#333"/>`,
    `<text x="${x(0.5)}" y="${y(0) + 40}" font-size="13" text-anchor="middle">recall (object level, IoU ≥ 0.25)</text>`,
    `<text x="20" y="${y(0.5)}" font-size="13" text-anchor="middle" transform="rotate(-90 20 ${y(0.5)})">precision</text>`,
  );
  detectors.forEach((d, k) => {
    const c = COLORS[k % COLORS.length]!;
    const pts = [...d.pr].sort((a, b) => a.recall - b.recall || b.precision - a.precision);
    parts.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${x(p.recall).toFixed(1)},${y(p.precision).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of d.pr)
      parts.push(
        `<circle cx="${x(p.recall).toFixed(1)}" cy="${y(p.precision).toFixed(1)}" r="3" fill="${c}"/>`,
      );
    const o = d.overall;
    parts.push(
      `<circle cx="${x(o.recall).toFixed(1)}" cy="${y(o.precision).toFixed(1)}" r="6" fill="none" stroke="${c}" stroke-width="2"/>`,
      `<rect x="${L + S + 30}" y="${T + k * 24}" width="14" height="14" fill="${c}"/>`,
      `<text x="${L + S + 50}" y="${T + k * 24 + 12}" font-size="13">${esc(`${d.detector} ${d.version} (F1 ${o.f1.toFixed(2)})`)}</text>`,
    );
  });
  parts.push(
    `<text x="${L + S + 30}" y="${T + detectors.length * 24 + 20}" font-size="11" fill="#555">ring = manifest threshold</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const f2 = (v: number) => v.toFixed(3);

export function reportMarkdown(report: EvalReport): string {
  const lines: string[] = [
    '# Detector evaluation',
    '',
    `Generated ${report.generatedAt} by \`skypatrol eval\` in ${(report.elapsedMs / 1000).toFixed(1)} s.`,
    `Held-out simulated regions (seeds ${report.regions.map((r) => r.seed).join(', ')}), conditions: ${report.conditions.join(', ')}.`,
    'Object level: a detection matches a planted truth polygon of its scenario at IoU ≥ 0.25 (one-to-one); truth below the',
    'minimum mapping unit or less than half observed (clouds) is not scored. Decoy false-clue rate: decoys (lawful changes,',
    'cloud shadows, seasonal change) on which a detection lies (IoU ≥ 0.25 or the detection at least half inside), unless',
    'that detection is itself a planted unlawful event (it matches a truth clue of any scenario at IoU ≥ 0.25: cloud-shadow',
    'decoys are whole shadows of one scene, up to several km², and real clues may lie under them).',
    'Threshold in brackets: the one applied when the declared no-SWIR fallback model runs (a date without SWIR, e.g. GF→S2).',
    '',
    '| detector | version | threshold (no-SWIR model) | MMU m² | precision | recall | F1 | pixel IoU | decoy false-clue rate | TP | FP | FN |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const d of report.detectors) {
    const o = d.overall;
    lines.push(
      `| ${d.detector} | ${d.version} | ${d.threshold}${d.fallbackThreshold !== null && d.fallbackThreshold !== undefined ? ` (${d.fallbackThreshold})` : ''} | ${d.minAreaM2} | ${f2(o.precision)} | ${f2(o.recall)} | **${f2(o.f1)}** | ${f2(o.pixelIoU)} | ${pct(o.decoyRate)} (${o.decoysHit}/${o.decoys}) | ${o.tp} | ${o.fp} | ${o.fn} |`,
    );
  }
  lines.push(
    '',
    `All scenario detectors together: ${report.decoys.hit} of ${report.decoys.total} observed decoys became a clue (${pct(report.decoys.rate)}).`,
    '',
    '## Multi-label: changes under several laws, clues that name several scenarios',
    '',
    "One change can break several scenarios' rules: a wetland filled and built on inside a river management area is",
    "wetland damage and river damage. The simulator's truth lists those other scenarios (`also_scenarios`: at least",
    "half of the footprint inside that layer, with that scenario's signal; permits are never implied). Where several",
    'scenarios claim one site, the most specific keeps the clue and lists the others in its `also_scenarios` (shown on',
    'the clue and in the packet). The table above scores primary clue labels against primary truth labels only; here',
    'a clue counts for every scenario it names, against every change that falls under that scenario. Regions simulated',
    'before truth carried `also_scenarios` score their primary truth label only.',
    '',
    '| detector | precision | recall | F1 | TP | FP | FN |',
    '|---|---|---|---|---|---|---|',
  );
  for (const d of report.detectors) {
    const n = d.named;
    if (!n) continue;
    lines.push(
      `| ${d.detector} | ${f2(n.precision)} | ${f2(n.recall)} | ${f2(n.f1)} | ${n.tp} | ${n.fp} | ${n.fn} |`,
    );
  }
  const byCondition = (
    title: string,
    of: (d: EvalReport['detectors'][number]) => Record<string, Scores> | undefined,
  ) => {
    lines.push(
      '',
      `## ${title} (object F1 / precision / recall)`,
      '',
      `| detector | ${report.conditions.join(' | ')} |`,
      `|---|${report.conditions.map(() => '---').join('|')}|`,
    );
    for (const d of report.detectors) {
      const per = of(d);
      if (!per) continue;
      lines.push(
        `| ${d.detector} ${d.version} | ${report.conditions
          .map((c) => {
            const s = per[c];
            return s ? `${f2(s.f1)} / ${f2(s.precision)} / ${f2(s.recall)}` : '–';
          })
          .join(' | ')} |`,
      );
    }
  };
  byCondition('By condition', (d) => d.conditions);
  byCondition('By condition, multi-label', (d) => d.namedConditions);
  lines.push(
    '',
    '## Precision–recall over thresholds',
    '',
    `Swept on the ${report.conditions[0]} condition of every region.`,
    '',
    '![precision–recall](pr-curve.png)',
    '',
  );
  for (const d of report.detectors) {
    lines.push(
      `**${d.detector} ${d.version}**: ${d.pr.map((p) => `t=${p.threshold}: P ${f2(p.precision)} R ${f2(p.recall)} F1 ${f2(p.f1)}`).join('; ')}`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function writeEvalReport(
  report: EvalReport,
  outDir: string,
): Promise<{ md: string; png: string; json: string }> {
  await mkdir(outDir, { recursive: true });
  const svg = prCurveSvg(
    report.detectors,
    'Skypatrol detectors — precision–recall on held-out simulator seeds',
  );
  const png = join(outDir, 'pr-curve.png');
  await sharp(Buffer.from(svg)).png().toFile(png);
  const md = join(outDir, 'report.md');
  await writeFile(md, reportMarkdown(report));
  const json = join(outDir, 'report.json');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  return { md, png, json };
}
