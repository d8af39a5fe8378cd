#!/usr/bin/env node
// Entry point of the `skypatrol` command. TypeScript sources run through tsx's loader,
// so there is no build step to forget; the CLI itself lives in services/apps/cli.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../services/apps/cli/main.ts');
await main(process.argv);
