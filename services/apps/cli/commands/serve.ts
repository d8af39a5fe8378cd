import type { Config } from '../../../core/config.ts';
import { serve } from '../../api/server.ts';

export async function serveCommand(config: Config, opts: { port?: number; host?: string }): Promise<void> {
  const server = await serve({ ...config, port: opts.port ?? config.port, host: opts.host ?? config.host });
  console.log(`Skypatrol serving on ${server.url}  (map: ${server.url}/, API docs: ${server.url}/docs)`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
