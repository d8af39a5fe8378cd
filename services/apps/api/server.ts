import type { Config } from '../../core/config.ts';
import { build } from './app.ts';

/** Start the API and web app; resolves with the address once listening. */
export async function serve(config: Config): Promise<{ url: string; close: () => Promise<void> }> {
  const app = await build(config);
  const address = await app.listen({ port: config.port, host: config.host });
  const shutdown = async () => {
    await app.close();
  };
  return { url: address, close: shutdown };
}

/** Serve until SIGINT/SIGTERM, then close cleanly (the CLI's `serve` and `demo`). */
export async function serveUntilSignal(config: Config): Promise<string> {
  const server = await serve(config);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return server.url;
}
