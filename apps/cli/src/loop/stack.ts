import { SCHEDULED_TIME_HEADER, type NodeServer } from '@mlops/platform';
import { Cron } from 'croner';
import { NODE_HOSTS } from '../commands/serve.ts';

export interface Stack {
  urls: Record<keyof typeof NODE_HOSTS, string>;
  /** The local scheduler's calls to evaluate, as Cloud Scheduler would make them. */
  cron: Cron;
  close(): Promise<void>;
}

/**
 * The embedded default's whole loop in one process: the five functions on 127.0.0.1 (free ports),
 * wired to each other by URL, and a local cron calling evaluate. Each function reads its settings
 * from `env`, exactly as its Cloud Run container would.
 */
export async function startStack(
  env: NodeJS.ProcessEnv,
  opts: { evaluateEvery: string; onEvaluation?: (result: { ok: boolean; body: unknown }) => void },
): Promise<Stack> {
  const servers: NodeServer[] = [];
  const start = async (name: keyof typeof NODE_HOSTS, extra: NodeJS.ProcessEnv = {}) => {
    const server = await NODE_HOSTS[name]({ port: 0, hostname: '127.0.0.1', env: { ...env, ...extra }, handleSignals: false });
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  };
  try {
    // Started callee first, so each caller is given a live URL.
    const promote = await start('promote');
    const retrain = await start('retrain-trigger', { PROMOTE_URL: promote });
    const evaluate = await start('evaluate', { RETRAIN_TRIGGER_URL: retrain, PROMOTE_URL: promote });
    const predict = await start('predict');
    const batchScore = await start('batch-score');
    const headers = { 'content-type': 'application/json', ...(env.MLOPS_API_KEY ? { authorization: `Bearer ${env.MLOPS_API_KEY}` } : {}) };
    const cron = new Cron(opts.evaluateEvery, { protect: true }, async (self: Cron) => {
      // The tick's time, as Cloud Scheduler and EventBridge send theirs: evaluate acts once per tick.
      const tick = { [SCHEDULED_TIME_HEADER]: (self.currentRun() ?? new Date()).toISOString() };
      try {
        const res = await fetch(`${evaluate}/v1/evaluate`, { method: 'POST', headers: { ...headers, ...tick }, body: '{}' });
        opts.onEvaluation?.({ ok: res.ok, body: await res.json() });
      } catch (error) {
        opts.onEvaluation?.({ ok: false, body: { error: (error as Error).message } });
      }
    });
    return {
      urls: { promote, 'retrain-trigger': retrain, evaluate, predict, 'batch-score': batchScore },
      cron,
      close: async () => {
        cron.stop();
        await Promise.all(servers.map((s) => s.close()));
      },
    };
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }
}
