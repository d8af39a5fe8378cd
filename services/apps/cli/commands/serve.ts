import type { Config } from '../../../core/config.ts';
import { serveUntilSignal } from '../../api/server.ts';

export async function serveCommand(config: Config, opts: { port?: number; host?: string }): Promise<void> {
  const url = await serveUntilSignal({
    ...config,
    port: opts.port ?? config.port,
    host: opts.host ?? config.host,
  });
  console.log(`Skypatrol serving on ${url}  (map: ${url}/, API docs: ${url}/docs)`);
}
