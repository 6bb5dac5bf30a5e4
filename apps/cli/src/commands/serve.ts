import { startNodeHost as startBatchScore } from '@mlops/batch-score';
import { startNodeHost as startEvaluate } from '@mlops/evaluate';
import { startNodeHost as startPredict } from '@mlops/predict';
import { startNodeHost as startPromote } from '@mlops/promote';
import { startNodeHost as startRetrainTrigger } from '@mlops/retrain-trigger';

// The same entries Cloud Run runs, so local serving cannot drift from the deployed one.
export const NODE_HOSTS = {
  predict: startPredict,
  'batch-score': startBatchScore,
  evaluate: startEvaluate,
  'retrain-trigger': startRetrainTrigger,
  promote: startPromote,
} as const;

/** Runs a function locally as a Node HTTP server, the way Cloud Run would. */
export async function serveCommand(name: string, flags: { port?: number; host: string }): Promise<void> {
  if (!(name in NODE_HOSTS)) throw new Error(`unknown function "${name}" (available: ${Object.keys(NODE_HOSTS).join(', ')})`);
  await NODE_HOSTS[name as keyof typeof NODE_HOSTS]({ port: flags.port, hostname: flags.host });
}
