import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textHash } from '@mlops/data';
import { TextClassifier } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import { feedbackId, isHoldout, ReferenceSchema, scoreReference, toJsonl, writeFeedback, type FeedbackRecord } from '@mlops/monitoring';
import { createPredictService } from '@mlops/predict';
import { considerCandidate, type PromoteDeps } from '@mlops/promote';
import { createRegistry, hasTorchWeights, type ModelRegistry } from '@mlops/registry';
import { openStore, sha256OfFile, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { importModel } from './import-model.ts';

let trained: string;
/** An HF folder as optimum or transformers.js leave it: no torch weights, none of the registry's own files. */
let onnxOnly: string;
/** The same with the ONNX model at the folder's root (optimum's layout). */
let onnxAtRoot: string;
let root: string;

beforeAll(async () => {
  // The champion says positive to everything, the imported candidate negative.
  trained = await createTinyModel({ seed: 1, leaning: 1 });
  const source = await createTinyModel({ seed: 2, leaning: 0 });
  root = await mkdtemp(join(tmpdir(), 'import-'));
  onnxOnly = join(root, 'onnx-only');
  await cp(source, onnxOnly, { recursive: true });
  for (const file of ['pytorch_model.bin', 'metrics.json', 'lineage.json']) await rm(join(onnxOnly, file));
  onnxAtRoot = join(root, 'onnx-at-root');
  await cp(onnxOnly, onnxAtRoot, { recursive: true });
  await rename(join(onnxAtRoot, 'onnx', 'model.onnx'), join(onnxAtRoot, 'model.onnx'));
  await rm(join(onnxAtRoot, 'onnx'), { recursive: true });
}, 60_000);

let store: ObjectStore;
let storeDir: string;
let registry: ModelRegistry;
beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'import-store-'));
  store = openStore(storeDir);
  registry = createRegistry(store);
});

const texts = Array.from({ length: 1500 }, (_, i) => `review number ${i} ${'good bad fine awful great dull'.split(' ')[i % 6]}`);

async function dataFile(rows: object[]): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'import-data-')), 'rows.jsonl');
  await writeFile(path, toJsonl(rows));
  return path;
}

const importOf = (dir: string, extra: Partial<Parameters<typeof importModel>[0]> = {}) =>
  importModel({ dir, registry, actor: 'test', ...extra });

describe('importModel', () => {
  it('registers an ONNX-only folder with its reference, eval metrics and lineage, and without torch weights', async () => {
    // Other field names, a repeated text and a bad row: read as the trainer reads its data.
    const referenceRows = [...texts.slice(0, 150).map((review) => ({ review })), { review: texts[0] }, { other: 'no review' }];
    const evalRows = texts.slice(0, 30).map((review) => ({ review, sentiment: 'negative' }));
    const result = await importOf(onnxOnly, {
      reference: await dataFile(referenceRows),
      eval: await dataFile(evalRows),
      textField: 'review',
      labelField: 'sentiment',
    });

    expect(result).toMatchObject({ champion: true, classes: ['negative', 'positive'], metrics: { n: 30, accuracy: 1 } });
    const { version } = result;
    expect(version.files.map((f) => f.path)).toEqual([
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model.onnx',
      'metrics.json',
      'lineage.json',
      'reference.json',
    ]);
    expect(hasTorchWeights(version)).toBe(false);
    expect(version.metrics).toMatchObject({ eval: { accuracy: 1, n: 30 } });
    expect(await registry.readVersionJson(version.version, 'metrics.json', z.object({ eval: z.object({ n: z.number() }) }))).toMatchObject({
      eval: { n: 30 },
    });

    // The same statistics, schema and n as the trainer stores for the same texts.
    const reference = await registry.readVersionJson(version.version, 'reference.json', ReferenceSchema);
    const classifier = await TextClassifier.load(onnxOnly, { sessions: 1 });
    const asTrainer = await scoreReference(classifier, 'validation', texts.slice(0, 150));
    await classifier.release();
    expect(reference.n).toBe(150);
    expect({ ...reference, source: 'validation' }).toEqual(asTrainer.reference);

    const lineage = await registry.readVersionJson(
      version.version,
      'lineage.json',
      z.object({
        imported: z.object({
          source: z.string(),
          onnx: z.string(),
          files: z.array(z.object({ path: z.string(), size: z.number(), sha256: z.string() })),
        }),
        data: z.object({
          reference: z.object({ rows: z.number(), bad: z.number(), duplicates: z.number() }),
          eval: z.object({ rows: z.number() }),
        }),
        evaluated: z.boolean(),
      }),
    );
    expect(lineage).toMatchObject({ imported: { source: onnxOnly, onnx: 'onnx/model.onnx' }, evaluated: true });
    expect(lineage.data).toMatchObject({ reference: { rows: 152, bad: 1, duplicates: 1 }, eval: { rows: 30 } });
    const sourceFiles = ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json'];
    expect(lineage.imported.files).toEqual(
      await Promise.all(
        sourceFiles.map(async (path) => ({
          path,
          size: expect.any(Number),
          sha256: await sha256OfFile(join(onnxOnly, path)),
        })),
      ),
    );
  });

  it("places a root model.onnx at the registry's onnx/model.onnx, and records a version nobody evaluated", async () => {
    const { version, metrics, reference } = await importOf(onnxAtRoot);
    expect(version.files.map((f) => f.path)).toContain('onnx/model.onnx');
    expect(version.files.map((f) => f.path)).not.toContain('reference.json');
    expect(version.files.find((f) => f.path === 'onnx/model.onnx')?.sha256).toBe(await sha256OfFile(join(onnxAtRoot, 'model.onnx')));
    expect([metrics, reference]).toEqual([undefined, undefined]);
    expect(version.metrics).toEqual({});
    expect(JSON.parse((await registry.readVersionFile(version.version, 'metrics.json')).toString())).toEqual({ evaluated: false });
  });

  it('serves an imported version through predict', async () => {
    await importOf(onnxAtRoot);
    const service = createPredictService({
      MLOPS_STORE: storeDir,
      MLOPS_CACHE_DIR: join(storeDir, '..', `${storeDir.split('/').at(-1)}-cache`),
      PREDICT_LOG_SAMPLE_RATE: '0',
      PREDICT_SESSIONS: '1',
      LOG_LEVEL: 'silent',
    });
    await service.start();
    try {
      const res = await service.app.request('/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ texts: ['a good film', 'a bad film'] }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ model_version: 'v1', predictions: [{ label: 'negative' }, { label: 'negative' }] });
    } finally {
      await service.stop();
    }
  });

  it('is gated by promote against a trained champion like any candidate, and its canary starts', async () => {
    await registry.registerVersion(trained, { actor: 'test', reason: 'trained champion' });
    const { version, champion } = await importOf(onnxOnly);
    expect([version.version, champion]).toEqual(['v2', false]);
    // Held-out labels the imported candidate gets right and the champion wrong.
    const time = new Date().toISOString();
    await writeFeedback(
      store,
      texts
        .filter((text) => isHoldout(textHash(text)))
        .map((text): FeedbackRecord => ({
          feedback_id: feedbackId({ text_hash: textHash(text) }),
          time,
          label: 'negative',
          text_hash: textHash(text),
          text,
          source: 'api',
        })),
    );
    const deps: PromoteDeps = {
      store,
      registry,
      cacheDir: join(root, 'promote-cache'),
      windowMinutes: 60,
      baseEval: undefined,
      baseRows: 0,
      gate: { margin: 0.02, tolerance: 0.02, maxLatencyRatio: 3, minHoldout: 50 },
      canary: { weight: 0.5, minLabels: 50, maxMinutes: 60, tolerance: 0.02 },
      alerter: { notify: async () => [] },
      logger: pino({ level: 'silent' }),
      actor: 'promote',
    };
    const result = await considerCandidate(deps, 'v2');
    expect(result.decision).toBe('canary');
    expect(result.gate!.checks[0]).toMatchObject({ candidate: 1, pass: true });
    expect(await registry.getAlias('challenger')).toMatchObject({ version: 'v2', canaryWeight: 0.5 });
  });

  it('refuses a folder it cannot serve, naming what is missing, and registers nothing', async () => {
    const broken = async (name: string, change: (dir: string) => Promise<void>) => {
      const dir = join(root, name);
      await cp(onnxOnly, dir, { recursive: true });
      await change(dir);
      return dir;
    };
    const noOnnx = await broken('no-onnx', (dir) => rm(join(dir, 'onnx'), { recursive: true }));
    await expect(importOf(noOnnx)).rejects.toThrow(`no ONNX model in ${noOnnx} (looked for onnx/model.onnx, model.onnx)`);
    const noTokenizer = await broken('no-tokenizer', (dir) => rm(join(dir, 'tokenizer.json')));
    await expect(importOf(noTokenizer)).rejects.toThrow(`${noTokenizer} has no tokenizer.json`);
    const config = async (dir: string) => JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const noLabels = await broken('no-id2label', async (dir) => {
      const headless = await config(dir);
      delete headless.id2label;
      delete headless.label2id;
      await writeFile(join(dir, 'config.json'), JSON.stringify(headless));
    });
    await expect(importOf(noLabels)).rejects.toThrow(`${join(noLabels, 'config.json')} has no id2label naming the classes`);
    const threeLabels = await broken('three-labels', async (dir) => {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...(await config(dir)), id2label: { 0: 'a', 1: 'b', 2: 'c' } }));
    });
    await expect(importOf(threeLabels)).rejects.toThrow('model gives 2 logits per text but config.json names 3 labels');
    const external = await broken('external-data', (dir) => writeFile(join(dir, 'onnx', 'model.onnx_data'), ''));
    await expect(importOf(external)).rejects.toThrow(/keeps its weights in model.onnx_data/);
    expect(await store.list('')).toEqual([]);
  });
});
