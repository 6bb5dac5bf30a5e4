/** Cloud Run and local entry: a Node HTTP server on PORT, called by a scheduler. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveNode, type NodeHostOptions, type NodeServer } from '@mlops/platform';
import { createEvaluateService } from '../service.ts';

export async function startNodeHost(options: NodeHostOptions = {}): Promise<NodeServer> {
  const service = createEvaluateService(options.env);
  const server = await serveNode(service.app, { ...options });
  service.logger.info({ port: server.port }, `evaluate listening on port ${server.port}`);
  return server;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await startNodeHost();
