/**
 * Cloud Run and local entry: a Node HTTP server on PORT for storage events (and, on a file://
 * store, the inbox watcher). `node --import tsx apps/batch-score/src/hosts/node.ts` starts it.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveNode, type NodeHostOptions, type NodeServer } from '@mlops/platform';
import { createBatchScoreService } from '../service.ts';

export async function startNodeHost(options: NodeHostOptions = {}): Promise<NodeServer> {
  const service = createBatchScoreService(options.env);
  await service.start();
  const server = await serveNode(service.app, { ...options, onShutdown: service.stop });
  service.logger.info({ port: server.port }, `batch-score listening on port ${server.port}`);
  return server;
}

// Imported (by the CLI) it only exports; run as the container's entry it starts the server.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await startNodeHost();
