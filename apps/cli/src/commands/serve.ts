import { serveNode } from '@mlops/platform';
import { createPredictService } from '@mlops/predict';

/** Runs a function locally as a Node HTTP server, the way Cloud Run would. */
export async function serveCommand(name: string, flags: { port?: number; host: string }): Promise<void> {
  if (name !== 'predict') throw new Error(`unknown function "${name}" (available: predict)`);
  const service = createPredictService();
  await service.start();
  const server = await serveNode(service.app, { port: flags.port ?? (Number(process.env.PORT) || 8080), hostname: flags.host, onShutdown: service.stop });
  service.logger.info({ port: server.port }, `predict listening on http://${flags.host}:${server.port}`);
}
