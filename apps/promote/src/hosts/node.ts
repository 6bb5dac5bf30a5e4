/** Cloud Run and local entry: a Node HTTP server on PORT. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveNode, type NodeHostOptions, type NodeServer } from '@mlops/platform';
import { createPromoteService } from '../service.ts';

export async function startNodeHost(options: NodeHostOptions = {}): Promise<NodeServer> {
  const service = createPromoteService(options.env);
  const server = await serveNode(service.app, { ...options });
  service.logger.info({ port: server.port }, `promote listening on port ${server.port}`);
  return server;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await startNodeHost();
