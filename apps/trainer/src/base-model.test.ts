import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@mlops/config';
import { TextClassifier } from '@mlops/inference';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { TextTokenizer } from '@mlops/tokenizer';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeBase, loadBaseTokenizer } from './base-model.ts';
import { createHfCheckpoint, type CheckpointOptions } from './base-model.test-helpers.ts';
import { generatedReviews, writeJsonl } from './fixtures.test-helpers.ts';
import type { Hyperparameters } from './hyperparameters.ts';
import { trainModel, type TrainProgress } from './train-job.ts';

const PYTHON = loadSettings().MLOPS_PYTHON;
const ROWS = generatedReviews(300);
const TEXTS = ROWS.map((r) => r.text);
// Random encoders sit at chance for the first few dozen steps: small batches give them the steps to leave it.
const TUNE: Partial<Hyperparameters> = { epochs: 4, batchSize: 8, lr: 3e-3, patience: 4, validationRatio: 0.1 };

describe('fine-tuning Hugging Face checkpoints with --base', () => {
  let registry: ModelRegistry;
  let storeDir: string;
  let data: string;
  beforeAll(async () => {
    data = await writeJsonl(ROWS);
  });
  beforeEach(async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'trainer-base-'));
    registry = createRegistry(openStore(storeDir));
  });

  async function fineTune(checkpoint: CheckpointOptions) {
    const base = await createHfCheckpoint(PYTHON, checkpoint);
    const progress: TrainProgress[] = [];
    const result = await trainModel({
      data,
      base,
      hyper: TUNE,
      registry,
      python: PYTHON,
      actor: 'test',
      onProgress: (p) => progress.push(p),
    });
    const baseEvent = progress.flatMap((p) => (p.phase === 'core' && p.event.event === 'base' ? [p.event] : []))[0]!;
    const messages = progress.flatMap((p) => (p.phase === 'prepare' ? [p.message] : []));
    const dir = await registry.downloadVersion(result.version.version, join(storeDir, 'cache'));
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const onnx = await readFile(join(dir, 'onnx', 'model.onnx'));
    return { base, result, baseEvent, messages, dir, config, takesTokenTypes: onnx.includes('token_type_ids') };
  }

  /** Serving reads the registered folder: its tokenizer encodes as the base's did, and the model has learnt the task. */
  async function expectServes(dir: string, base: string) {
    const classifier = await TextClassifier.load(dir, { threads: 1, sessions: 1 });
    const training = await loadBaseTokenizer(base);
    expect((await classifier.tokenizer.encode(TEXTS.slice(0, 20))).ids).toEqual((await training.encodeWithRust(TEXTS.slice(0, 20))).ids);
    const [good, bad] = await classifier.predict(['a really wonderful and superb film', 'a dull and dreadful plot']);
    await classifier.release();
    return [good!.label, bad!.label];
  }

  it('a headless BERT (BertModel names, vocab.txt, pytorch_model.bin) gets a new head and feeds token_type_ids', async () => {
    const run = await fineTune({ modelType: 'bert', texts: TEXTS, head: 'none', format: 'bin', positions: 40 });
    expect(run.baseEvent).toMatchObject({
      model_type: 'bert',
      files: ['pytorch_model.bin'],
      new_weights: ['classifier.bias', 'classifier.weight'],
    });
    expect(run.messages).toContain(describeBase(run.baseEvent));
    expect(run.result.parity.maxAbsDiff).toBeLessThan(1e-3);
    expect(run.result.metrics.validation!.accuracy).toBeGreaterThan(0.8);
    expect(run.config).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      id2label: { 0: 'negative', 1: 'positive' },
    });
    expect(run.takesTokenTypes).toBe(true);
    // vocab.txt became the registered tokenizer.json, cut at the model's 40 positions.
    expect(existsSync(join(run.dir, 'tokenizer.json'))).toBe(true);
    expect((await TextTokenizer.load(run.dir)).maxLength).toBe(40);
    expect(await expectServes(run.dir, run.base)).toEqual(['positive', 'negative']);
  });

  it('a RoBERTa from model.safetensors with a head for three labels gets a two-label head; byte-level BPE serves', async () => {
    const run = await fineTune({
      modelType: 'roberta',
      texts: TEXTS,
      head: { labels: ['a', 'b', 'c'] },
      format: 'safetensors',
      positions: 34,
    });
    expect(run.baseEvent).toMatchObject({
      model_type: 'roberta',
      files: ['model.safetensors'],
      new_weights: ['classifier.out_proj.bias', 'classifier.out_proj.weight'],
      head: 'for 3 labels: a new one for 2',
    });
    expect(run.result.parity.maxAbsDiff).toBeLessThan(1e-3);
    expect(run.result.metrics.validation!.accuracy).toBeGreaterThan(0.8);
    expect(run.config).toMatchObject({ architectures: ['RobertaForSequenceClassification'], pad_token_id: 1, max_position_embeddings: 34 });
    expect(run.takesTokenTypes).toBe(false);
    // 34 rows hold 32 tokens: RoBERTa's positions start after the padding index.
    expect((await TextTokenizer.load(run.dir)).maxLength).toBe(32);
    expect(await expectServes(run.dir, run.base)).toEqual(['positive', 'negative']);
  });

  it('a DistilBERT head with the same labels in another order keeps its weights and its order (sharded safetensors)', async () => {
    const run = await fineTune({
      modelType: 'distilbert',
      texts: TEXTS,
      head: { labels: ['positive', 'negative'] },
      format: 'sharded',
      positions: 40,
    });
    expect(run.baseEvent).toMatchObject({
      files: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
      new_weights: [],
      labels: ['positive', 'negative'],
    });
    expect(run.config.id2label).toEqual({ 0: 'positive', 1: 'negative' });
    expect(run.result.parity.maxAbsDiff).toBeLessThan(1e-3);
    expect(Object.keys(run.result.metrics.validation!.per_class).sort()).toEqual(['negative', 'positive']);
    expect(run.result.metrics.validation!.accuracy).toBeGreaterThan(0.8);
    expect(await expectServes(run.dir, run.base)).toEqual(['positive', 'negative']);
  });

  it('refuses, before training, a RoBERTa without tokenizer.json and a length beyond the positions', async () => {
    const base = await createHfCheckpoint(PYTHON, { modelType: 'roberta', texts: TEXTS, head: 'none', format: 'bin', positions: 34 });
    const run = (hyper: Partial<Hyperparameters>) => trainModel({ data, base, hyper, registry, python: PYTHON, actor: 'test' });
    await expect(run({ maxLength: 33 })).rejects.toThrow(/max length 33 exceeds the base model's 32 positions/);
    await rm(join(base, 'tokenizer.json'));
    await expect(run({})).rejects.toThrow(/has no tokenizer.json, nor a BERT vocab.txt/);
    expect(await registry.listVersions()).toEqual([]);
  });
});
