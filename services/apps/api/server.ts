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
