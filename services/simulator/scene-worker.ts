import { parentPort, workerData } from 'node:worker_threads';
import type { Landscape } from './landscape.ts';
import { makeRegion } from './region.ts';
import { renderScene, type SceneContext } from './scene-render.ts';
import type { SceneDef } from './scenes.ts';

/** Renders the scenes it is given, in order, and posts each output back. */
export interface WorkerInput {
  landscape: Omit<Landscape, 'region'>;
  center: [number, number];
  sizeKm: number;
  ctx: Omit<SceneContext, 'l' | 'log'>;
  scenes: { index: number; scene: SceneDef }[];
}

const input = workerData as WorkerInput;
const l: Landscape = { ...input.landscape, region: makeRegion(input.center, input.sizeKm) };
const ctx: SceneContext = { ...input.ctx, l, log: (line) => parentPort!.postMessage({ log: line }) };
for (const { index, scene } of input.scenes) {
  const output = await renderScene(ctx, scene);
  parentPort!.postMessage({ index, output });
}
