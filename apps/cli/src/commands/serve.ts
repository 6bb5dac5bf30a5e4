import { startNodeHost as startBatchScore } from '@mlops/batch-score';
import { startNodeHost as startPredict } from '@mlops/predict';

// The same entries Cloud Run runs, so local serving cannot drift from the deployed one.
const hosts = new Map([
  ['predict', startPredict],
  ['batch-score', startBatchScore],
]);

/** Runs a function locally as a Node HTTP server, the way Cloud Run would. */
export async function serveCommand(name: string, flags: { port?: number; host: string }): Promise<void> {
  const start = hosts.get(name);
  if (!start) throw new Error(`unknown function "${name}" (available: ${[...hosts.keys()].join(', ')})`);
  await start({ port: flags.port, hostname: flags.host });
}
