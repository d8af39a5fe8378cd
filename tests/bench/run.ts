/**
 * `npm run bench`: speed and memory of the first slice, written to docs/benchmarks-slice.md (assembled into docs/benchmarks.md) with
 * the machine and date. Figures are measured, never asserted.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { loadDetector } from '../../services/adapters/files/detector-registry.ts';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import { polygonize } from '../../services/domain/detectors/polygonize.ts';
import { readAlignedPair } from '../../services/usecases/read-pair.ts';
import { runTiled } from '../../services/usecases/run-model.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OSCD = resolve(process.env.SKYPATROL_SHARED_DATA ?? resolve(ROOT, '../shared/data'), 'oscd');
const rows: string[] = [];
let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const timer = setInterval(sampleRss, 20);

async function time<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  sampleRss();
  return [r, performance.now() - t];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

// 1. ONNX inference on one 512×512 tile, by thread count.
const inference: string[] = [];
for (const threads of [1, 2]) {
  const d = await loadDetector(join(ROOT, 'detectors'), 'change', threads);
  const C = d.manifest.inputs.bands.length;
  const n = 512 * 512;
  const rand = mulberry32(1);
  const before = Float32Array.from({ length: C * n }, () => rand() * 0.3);
  const after = Float32Array.from({ length: C * n }, () => rand() * 0.3);
  const feeds = {
    before: { data: before, dims: [1, C, 512, 512] },
    after: { data: after, dims: [1, C, 512, 512] },
  };
  await d.runner.run(feeds); // warm-up
  const times: number[] = [];
  for (let i = 0; i < 10; i++) times.push((await time(() => d.runner.run(feeds)))[1]);
  const ms = median(times);
  inference.push(`| ${threads} | ${ms.toFixed(1)} | ${((n / ms) * 1e-3).toFixed(1)} |`);
  await d.runner.release();
}

// 2. Polygonize a 2048×2048 probability raster with ~1,500 blobs.
const W = 2048;
const prob = new Float32Array(W * W);
const rand = mulberry32(2);
for (let k = 0; k < 1500; k++) {
  const cx = Math.floor(rand() * W);
  const cy = Math.floor(rand() * W);
  const r = 2 + rand() * 10;
  for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(W, cy + r); y++) {
    for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(W, cx + r); x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) prob[y * W + x] = 0.9;
    }
  }
}
const [polys, polyMs] = await time(() =>
  polygonize({
    width: W,
    height: W,
    probability: prob,
    threshold: 0.5,
    minAreaM2: 0,
    toLonLat: (x, y) => [120 + x * 1e-4, 49 - y * 1e-4],
  }),
);

// 3. The whole detect slice on each OSCD city (read + align + model + polygons).
const cityRows: string[] = [];
if (existsSync(OSCD)) {
  const d = await loadDetector(join(ROOT, 'detectors'), 'change', 0);
  for (const city of ['paris', 'bercy', 'nantes', 'mumbai']) {
    const [pair, readMs] = await time(() =>
      readAlignedPair(join(OSCD, city, 'imgs_1'), join(OSCD, city, 'imgs_2'), d.manifest),
    );
    const [p, modelMs] = await time(() => runTiled(d.runner, d.manifest, pair));
    const g = pair.before.stack.grid;
    const [out, polyCityMs] = await time(() =>
      polygonize({
        width: g.width,
        height: g.height,
        probability: p,
        valid: pair.valid,
        threshold: d.manifest.threshold,
        minAreaM2: d.manifest.minAreaM2,
        toLonLat: (x, y) => [g.originX + x * g.resX, g.originY - y * g.resY],
      }),
    );
    const px = g.width * g.height;
    const total = readMs + modelMs + polyCityMs;
    cityRows.push(
      `| ${city} | ${g.width}×${g.height} | ${readMs.toFixed(0)} | ${modelMs.toFixed(0)} | ${polyCityMs.toFixed(0)} | ${out.length} | ${((px / total) * 1e-3).toFixed(2)} |`,
    );
  }
  await d.runner.release();
}
clearInterval(timer);

const cpu = cpus()[0]?.model ?? 'unknown CPU';
rows.push(
  '# Benchmarks',
  '',
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
    `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM (${(freemem() / 2 ** 30).toFixed(0)} GiB free), Node ${process.version}.`,
  '',
  '## ONNX inference, `change` model, one 512×512 tile (6 bands × 2 dates)',
  '',
  '| intra-op threads | median ms (10 runs) | Mpx/s |',
  '|---|---|---|',
  ...inference,
  '',
  '## Polygonizer, 2048×2048 raster, 1,500 blobs',
  '',
  `${polys.length} polygons in ${polyMs.toFixed(0)} ms (${((W * W) / polyMs / 1000).toFixed(1)} Mpx/s).`,
  '',
  '## `skypatrol detect` slice on real OSCD Sentinel-2 pairs',
  '',
  'Read = decode 6 bands × 2 dates from uncompressed GeoTIFFs and align 20 m bands onto the 10 m grid.',
  '',
  '| city | pixels | read ms | model ms | polygons ms | polygons | Mpx/s end to end |',
  '|---|---|---|---|---|---|---|',
  ...(cityRows.length ? cityRows : ['| (../shared/data/oscd not found) | | | | | | |']),
  '',
  `Peak RSS during the run: ${(peakRss / 2 ** 20).toFixed(0)} MiB.`,
  '',
);
await writeFile(join(ROOT, 'docs/benchmarks-slice.md'), rows.join('\n'));
console.log(rows.join('\n'));
