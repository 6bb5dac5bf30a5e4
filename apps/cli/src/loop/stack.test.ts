import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { EvaluationRecordSchema, readEvaluations } from '@mlops/monitoring';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { expect, it } from 'vitest';
import { loopChart } from './chart.ts';
import { startStack } from './stack.ts';
import { accuracyTable, replay } from './traffic.ts';

it('runs the five functions wired together: traffic and labels reach evaluate through the store, on the cron', async () => {
  const root = await mkdtemp(join(tmpdir(), 'stack-'));
  const store = openStore(join(root, 'store'));
  const registry = createRegistry(store);
  await registry.registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  const evaluations: unknown[] = [];
  const stack = await startStack(
    {
      ...process.env,
      MLOPS_STORE: join(root, 'store'),
      MLOPS_CACHE_DIR: join(root, 'cache'),
      MLOPS_API_KEY: 'k',
      PREDICT_THREADS: '1',
      PREDICT_LOG_FLUSH_SECONDS: '0.2',
      LOG_LEVEL: 'silent',
    },
    { evaluateEvery: '* * * * * *', onEvaluation: ({ ok, body }) => ok && evaluations.push(body) },
  );
  try {
    const rows = Array.from({ length: 40 }, (_, i) => ({ text: `a review with words ${i}`, label: i % 2 ? 'positive' : 'negative' }));
    const served = await replay(stack.urls.predict, rows, { phase: 'test', apiKey: 'k', batchSize: 8, concurrency: 2 });
    expect(served).toHaveLength(40);
    const [row] = accuracyTable(served);
    expect(row).toMatchObject({ phase: 'test', version: 'v1', n: 40 });

    // The cron calls evaluate each second; wait for one that sees all 40 labelled predictions.
    const deadline = Date.now() + 20_000;
    let seen = 0;
    while (Date.now() < deadline && seen < 40) {
      await new Promise((r) => setTimeout(r, 250));
      seen = evaluations.map((e) => EvaluationRecordSchema.parse(e).champion.accuracy?.n ?? 0).reduce((a, b) => Math.max(a, b), 0);
    }
    expect(seen).toBe(40);
    const runs = await fetch(`${stack.urls['retrain-trigger']}/v1/runs`, { headers: { authorization: 'Bearer k' } });
    expect(runs.status).toBe(200);
    expect((await fetch(`${stack.urls.promote}/v1/canary/review`, { method: 'POST' })).status).toBe(401);

    const svg = await loopChart((await readEvaluations(store, 'sentiment')).records, await registry.audit(), 'test chart');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('accuracy, champion (v1)');
  } finally {
    await stack.close();
  }
}, 60_000);
