#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: a patrol tile allocates and drops about a gigabyte of typed arrays, and
// each 64 MiB of it starts a V8 collection; with V8's default helper threads, their concurrent
// marking cost about 1.2 s of CPU per 1024² tile on top of the worker's own 3.5 s (measured in
// tests/bench/patrol.ts: CPU per tile −22 %, wall −30 % with the flag). A worker is meant to keep
// one core busy, so its collector runs on its own thread. NODE_OPTIONS cannot carry this flag:
// run `node --single-threaded-gc bin/skypatrol.mjs …` (as npm scripts and the image do).
// Entry point of the `skypatrol` command. TypeScript sources run through tsx's loader,
// so there is no build step to forget; the CLI itself lives in services/apps/cli.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../services/apps/cli/main.ts');
await main(process.argv);
