import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@mlops/config';
import { generatedRatings, RATING_LABELS } from '@mlops/data/testing';
import { ConfigLabelsSchema, EvaluationRecordSchema, type EvaluationRecord } from '@mlops/monitoring';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { trainModel } from '@mlops/trainer';
import { expect, it } from 'vitest';
import { startStack } from './stack.ts';
import { replay } from './traffic.ts';

/** Resolves once the audit trail holds `action` for `version`, or fails after `seconds`. */
async function audited(registry: ModelRegistry, version: string, action: string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if ((await registry.audit()).some((e) => e.version === version && e.action === action)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `no ${action} of ${version} in ${seconds}s: ${JSON.stringify((await registry.audit()).map((e) => [e.action, e.version]))}`,
  );
}

it('runs the whole loop for four classes: stale champion, fine-tune from feedback, gate, canary, promotion', async () => {
  const root = await mkdtemp(join(tmpdir(), 'loop-four-'));
  const registry = createRegistry(openStore(join(root, 'store')));
  const csv = async (name: string, rows: { text: string; label: string }[]) => {
    const path = join(root, name);
    await writeFile(path, ['review,stars_bin', ...rows.map((r) => `"${r.text}",${r.label}`)].join('\n'));
    return path;
  };
  // v1 learnt each class word under the next class's name: confidently wrong on every real label.
  const shifted = generatedRatings(600).map((r) => ({ ...r, label: RATING_LABELS[(RATING_LABELS.indexOf(r.label) + 1) % 4]! }));
  await trainModel({
    data: await csv('shifted.csv', shifted),
    textField: 'review',
    labelField: 'stars_bin',
    labels: [...RATING_LABELS],
    hyper: {
      epochs: 10,
      patience: 4,
      maxLength: 32,
      vocabSize: 300,
      batchSize: 16,
      lr: 3e-3,
      validationRatio: 0.1,
      dim: 32,
      nLayers: 1,
      nHeads: 2,
      hiddenDim: 64,
    },
    registry,
    python: loadSettings().MLOPS_PYTHON,
    actor: 'test',
  });

  const evaluations: EvaluationRecord[] = [];
  const stack = await startStack(
    {
      ...process.env,
      MLOPS_STORE: join(root, 'store'),
      MLOPS_CACHE_DIR: join(root, 'cache'),
      MLOPS_API_KEY: 'k',
      PREDICT_THREADS: '1',
      PREDICT_LOG_FLUSH_SECONDS: '0.2',
      PREDICT_POLL_SECONDS: '0.5',
      LOG_LEVEL: 'silent',
      RETRAIN_MIN_NEW_LABELS: '50',
      RETRAIN_COOLDOWN_MINUTES: '0',
      RETRAIN_DAILY_CAP: '1',
      RETRAIN_EPOCHS: '4',
      RETRAIN_LR: '0.003',
      // The base data of both functions is a CSV with its own column names.
      RETRAIN_BASE_DATA: await csv('base-train.csv', generatedRatings(200, 21)),
      RETRAIN_BASE_TEXT_FIELD: 'review',
      RETRAIN_BASE_LABEL_FIELD: 'stars_bin',
      RETRAIN_BASE_ROWS: '80',
      PROMOTE_BASE_EVAL: await csv('base-eval.csv', generatedRatings(80, 22)),
      PROMOTE_BASE_TEXT_FIELD: 'review',
      PROMOTE_BASE_LABEL_FIELD: 'stars_bin',
      PROMOTE_BASE_ROWS: '80',
      PROMOTE_MAX_LATENCY_RATIO: '10',
      PROMOTE_CANARY_WEIGHT: '0.5',
      PROMOTE_CANARY_MIN_LABELS: '20',
    },
    { evaluateEvery: '* * * * * *', onEvaluation: ({ ok, body }) => ok && evaluations.push(EvaluationRecordSchema.parse(body)) },
  );
  try {
    // evaluate (each second) finds v1 stale → retrain-trigger → the training job fine-tunes v1 → promote gates v2.
    await replay(stack.urls.predict, generatedRatings(240, 23), { phase: 'stale', apiKey: 'k', batchSize: 8, concurrency: 2 });
    await audited(registry, 'v2', 'canary-start', 150);
    const stale = evaluations.find((e) => e.status === 'stale')!;
    expect(Object.keys(stale.champion.accuracy!.per_class)).toEqual([...RATING_LABELS]);
    expect((await registry.getVersion('v2')).parent).toBe('v1');
    expect(await registry.readVersionJson('v2', 'config.json', ConfigLabelsSchema)).toEqual([...RATING_LABELS]);

    // Labelled traffic during the canary: evaluate asks promote to review it, and v2 is promoted.
    await new Promise((r) => setTimeout(r, 1500)); // predict picks the challenger up at its next alias check
    await replay(stack.urls.predict, generatedRatings(160, 24), { phase: 'canary', apiKey: 'k', batchSize: 8, concurrency: 2 });
    await audited(registry, 'v2', 'promote', 60);
    expect((await registry.getAlias('champion'))?.version).toBe('v2');
  } finally {
    await stack.close();
  }
}, 300_000);
