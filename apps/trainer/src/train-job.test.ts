import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@mlops/config';
import { DataError } from '@mlops/data';
import { generatedRatings, RATING_LABELS } from '@mlops/data/testing';
import { TextClassifier } from '@mlops/inference';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { beforeEach, describe, expect, it } from 'vitest';
import { fakePython, generatedReviews, writeJsonl } from './fixtures.test-helpers.ts';
import { TrainingCoreError } from './python-core.ts';
import type { Hyperparameters } from './hyperparameters.ts';
import { trainModel, type TrainProgress } from './train-job.ts';

const PYTHON = loadSettings().MLOPS_PYTHON;
const TINY: Partial<Hyperparameters> = {
  epochs: 3,
  maxLength: 32,
  vocabSize: 300,
  batchSize: 16,
  lr: 3e-3,
  patience: 3,
  validationRatio: 0.1,
  dim: 32,
  nLayers: 1,
  nHeads: 2,
  hiddenDim: 64,
};

describe('trainModel', () => {
  let registry: ModelRegistry;
  let storeDir: string;

  beforeEach(async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'trainer-store-'));
    registry = createRegistry(openStore(storeDir));
  });

  it('trains end to end on generated rows, checks ONNX parity, evaluates and registers a champion', async () => {
    const data = await writeJsonl(generatedReviews(400));
    const evalData = await writeJsonl(generatedReviews(200, 7));
    const events: TrainProgress[] = [];
    const result = await trainModel({
      data,
      eval: evalData,
      hyper: TINY,
      registry,
      python: PYTHON,
      actor: 'test',
      onProgress: (p) => events.push(p),
    });

    expect(result.version.version).toBe('v1');
    expect(result.champion).toBe(true);
    expect(result.parity.maxAbsDiff).toBeLessThan(1e-3);
    expect(result.parity.rows).toBe(40);
    expect(result.timings.core_train).toBeGreaterThan(0);
    expect(result.timings.core_train).toBeLessThan(result.timings.train_and_export!);
    expect(result.metrics.eval!.n).toBe(200);
    expect(result.metrics.eval!.accuracy).toBeGreaterThan(0.9);
    expect(events.some((p) => p.phase === 'core' && p.event.event === 'step')).toBe(true);
    expect(events.some((p) => p.phase === 'evaluate')).toBe(true);

    // The registered folder is complete, loads for serving, and its lineage names the data.
    const dir = await registry.downloadVersion('v1', join(storeDir, 'cache'));
    const classifier = await TextClassifier.load(dir);
    const [good, bad] = await classifier.predict(['a really wonderful and superb film', 'a dull and dreadful plot']);
    expect([good!.label, bad!.label]).toEqual(['positive', 'negative']);
    await classifier.release();
    const lineage = JSON.parse(await readFile(join(dir, 'lineage.json'), 'utf8'));
    expect(lineage.data.train.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(lineage.data.train.rows).toBe(400);
    expect(lineage.params.maxLength).toBe(32);
    const reference = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8'));
    expect(reference).toMatchObject({ source: 'validation', n: 40 });
    expect(reference.scores).toHaveLength(40);
    expect(reference.labels.filter((l: string) => l === 'positive').length).toBeGreaterThan(10);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['DistilBertForSequenceClassification']);
    // No labels given: the sorted distinct labels of the data.
    expect(config.id2label).toEqual({ 0: 'negative', 1: 'positive' });

    // Fine-tuning from the registered version keeps its tokenizer and records the parent.
    const tuned = await trainModel({
      data,
      base: dir,
      parentVersion: 'v1',
      hyper: { ...TINY, epochs: 1 },
      registry,
      python: PYTHON,
      actor: 'test',
    });
    expect(tuned.version.version).toBe('v2');
    expect(tuned.version.parent).toBe('v1');
    expect(tuned.champion).toBe(false);
    expect(tuned.metrics.validation!.accuracy).toBeGreaterThan(0.9);
  });

  it('trains four classes from a CSV with other column names, and refuses to fine-tune on a class the base lacks', async () => {
    const csv = (rows: { text: string; label: string }[]) =>
      ['review,stars_bin', ...rows.map((r) => `"${r.text}",${r.label}`)].join('\n') + '\n';
    const dir = await mkdtemp(join(tmpdir(), 'trainer-csv-'));
    const data = join(dir, 'train.csv');
    const evalData = join(dir, 'eval.csv');
    await writeFile(data, csv(generatedRatings(600)));
    await writeFile(evalData, csv(generatedRatings(120, 5)));
    const fields = { textField: 'review', labelField: 'stars_bin' };
    const result = await trainModel({
      data,
      eval: evalData,
      ...fields,
      hyper: { ...TINY, epochs: 10, patience: 4 },
      registry,
      python: PYTHON,
      actor: 'test',
    });
    expect(Object.keys(result.metrics.eval!.per_class)).toEqual(['excellent', 'good', 'poor', 'terrible']);
    expect(result.metrics.eval!.accuracy).toBeGreaterThan(0.8);

    const v1 = await registry.downloadVersion('v1', join(storeDir, 'cache'));
    const classifier = await TextClassifier.load(v1);
    const [prediction] = await classifier.predict(['the film was a sublime masterpiece']);
    expect(Object.keys(prediction!.probabilities)).toEqual(['excellent', 'good', 'poor', 'terrible']);
    await classifier.release();

    // Given classes keep their order, and a label outside them stops the job, naming it, before any training.
    const ordered = [...RATING_LABELS];
    const withMeh = await writeJsonl([...generatedRatings(200), { text: 'so-so really', label: 'meh' }]);
    const refused = trainModel({
      data: withMeh,
      base: v1,
      parentVersion: 'v1',
      labels: ordered,
      hyper: TINY,
      registry,
      python: PYTHON,
      actor: 'test',
    });
    await expect(refused).rejects.toThrow(
      /^fine-tuning v1: .*label "meh" \(1 row\) not among the classes terrible, poor, good, excellent$/,
    );
    expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1']);
  });

  it('stops on corrupt data past the error ratio and registers nothing', async () => {
    const data = await writeJsonl(generatedReviews(50), 'bad.jsonl', ['{"text": "broken', '{"text": "x", "label": "meh"}']);
    await expect(trainModel({ data, hyper: TINY, registry, python: PYTHON, actor: 'test' })).rejects.toThrow(DataError);
    expect(await registry.listVersions()).toEqual([]);
  });

  it('names a missing torch and a missing interpreter clearly', async () => {
    const data = await writeJsonl(generatedReviews(50));
    const noTorch = await fakePython(`echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`);
    await expect(trainModel({ data, hyper: TINY, registry, python: noTorch, actor: 'test' })).rejects.toThrow(
      /cannot import torch: run "npm run setup"/,
    );
    await expect(trainModel({ data, hyper: TINY, registry, python: '/nonexistent/python3', actor: 'test' })).rejects.toThrow(
      /interpreter "\/nonexistent\/python3" not found/,
    );
    expect(await registry.listVersions()).toEqual([]);
  });

  it('reports a killed training process and registers nothing', async () => {
    const data = await writeJsonl(generatedReviews(50));
    // Passes the torch check, then dies mid-training the way the OOM killer would.
    const killed = await fakePython(
      `case "$1" in -c) echo "1.13 1.24"; exit 0;; esac\necho '{"event":"start","device":"cpu","threads":1,"amp":false,"torch":"1.13","params":1,"train_rows":1,"validation_rows":1,"epochs":1,"steps_total":1}'\nkill -9 $$`,
    );
    const error = await trainModel({ data, hyper: TINY, registry, python: killed, actor: 'test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingCoreError);
    expect((error as Error).message).toMatch(/killed by SIGKILL/);
    expect(await registry.listVersions()).toEqual([]);
  });

  it('cancels cleanly when aborted mid-training and registers nothing', async () => {
    const data = await writeJsonl(generatedReviews(400));
    const abort = new AbortController();
    const run = trainModel({
      data,
      hyper: { ...TINY, epochs: 50 },
      registry,
      python: PYTHON,
      actor: 'test',
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase === 'core' && p.event.event === 'step') abort.abort();
      },
    });
    await expect(run).rejects.toThrow(/training cancelled/);
    expect(await registry.listVersions()).toEqual([]);
  });

  it('turns a NaN loss into a clear error and registers nothing', async () => {
    const data = await writeJsonl(generatedReviews(100));
    await expect(trainModel({ data, hyper: { ...TINY, lr: 1e30 }, registry, python: PYTHON, actor: 'test' })).rejects.toThrow(
      /training failed: loss became nan/,
    );
    expect(await registry.listVersions()).toEqual([]);
    expect(existsSync(join(storeDir, 'models'))).toBe(false);
  });
});
