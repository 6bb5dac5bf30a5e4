import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextTokenizer } from '@mlops/tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
import { lengthGroups, ModelLoadError, neededForInference, TextClassifier } from './classifier.ts';
import { defaultSessionLayout, LARGE_MODEL_BYTES } from './session-pool.ts';
import { createRandomModel, createTinyModel } from './testing.ts';

describe('TextClassifier', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await createTinyModel();
  }, 60_000);

  it('returns label, score and all class probabilities per text', async () => {
    const classifier = await TextClassifier.load(dir, { threads: 1 });
    expect(classifier.labels).toEqual(['negative', 'positive']);
    const predictions = await classifier.predict(['a good film', 'great acting']);
    expect(predictions).toHaveLength(2);
    for (const p of predictions) {
      expect(p.probabilities.negative! + p.probabilities.positive!).toBeCloseTo(1, 5);
      expect(p.score).toBe(Math.max(p.probabilities.negative!, p.probabilities.positive!));
      expect(p.probabilities[p.label]).toBe(p.score);
    }
    await classifier.release();
  });

  it('gives the same answer alone and padded inside a batch of longer texts', async () => {
    const classifier = await TextClassifier.load(dir, { threads: 1 });
    const [alone] = await classifier.predict(['good']);
    const [batched] = await classifier.predict(['good', 'great acting, awful plot, a bad film, a good film']);
    expect(batched!.score).toBeCloseTo(alone!.score, 5);
    expect(await classifier.predict([])).toEqual([]);
    await classifier.release();
  });

  it('pads a pass to a multiple of 16 tokens, never beyond the model positions', async () => {
    const classifier = await TextClassifier.load(dir, { sessions: 0, threads: 1 });
    const { seq, inputIds, attentionMask } = classifier.pad([
      [2, 5, 3],
      [2, 3],
    ]);
    expect(seq).toBe(16);
    expect(Array.from(attentionMask.slice(0, 4))).toEqual([1n, 1n, 1n, 0n]);
    expect(inputIds[16 + 2]).toBe(BigInt(classifier.tokenizer.padId));
    const wide = await TextClassifier.load(await createTinyModel({ maxLength: 20 }), { sessions: 0, threads: 1 });
    expect(wide.pad([Array.from({ length: 18 }, () => 5)]).seq).toBe(20);
    await classifier.release();
    await wide.release();
  });

  it('truncates texts longer than the model positions instead of failing', async () => {
    const classifier = await TextClassifier.load(dir, { threads: 1 });
    const [p] = await classifier.predict(['good film '.repeat(500)]);
    expect(p!.label).toMatch(/negative|positive/);
    await classifier.release();
  });

  it('loads the optimum layout too (model.onnx at the folder root)', async () => {
    const optimum = await mkdtemp(join(tmpdir(), 'optimum-'));
    await cp(dir, optimum, { recursive: true });
    await rename(join(optimum, 'onnx', 'model.onnx'), join(optimum, 'model.onnx'));
    await rm(join(optimum, 'onnx'), { recursive: true });
    const [ours, theirs] = await Promise.all([TextClassifier.load(dir, { threads: 1 }), TextClassifier.load(optimum, { threads: 1 })]);
    expect((await theirs.predict(['a good film']))[0]!.score).toBeCloseTo((await ours.predict(['a good film']))[0]!.score, 6);
    await Promise.all([ours.release(), theirs.release()]);
  });

  it('fails clearly on missing or corrupt files', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'no-model-'));
    await expect(TextClassifier.load(empty)).rejects.toThrow(/cannot read .*config.json/);
    await writeFile(join(empty, 'config.json'), '{"model_type": "distilbert"}');
    await expect(TextClassifier.load(empty)).rejects.toThrow(/not a classifier config/);

    const corrupt = await mkdtemp(join(tmpdir(), 'corrupt-model-'));
    await writeFile(join(corrupt, 'config.json'), JSON.stringify({ id2label: { 0: 'negative', 1: 'positive' } }));
    const tokenizer = await TextTokenizer.train(['x y'], { vocabSize: 30, maxLength: 8 });
    await tokenizer.save(corrupt);
    await expect(TextClassifier.load(corrupt)).rejects.toThrow(/no ONNX model/);
    await mkdir(join(corrupt, 'onnx'));
    await writeFile(join(corrupt, 'onnx', 'model.onnx'), 'not a protobuf');
    await expect(TextClassifier.load(corrupt)).rejects.toThrow(ModelLoadError);
  });
});

describe('TextClassifier over BERT and RoBERTa exports', () => {
  it('feeds zeros as token_type_ids to a BERT export, which requires them', async () => {
    const classifier = await TextClassifier.load(await createTinyModel({ modelType: 'bert' }), { threads: 1 });
    const [alone] = await classifier.predict(['good']);
    const [batched] = await classifier.predict(['good', 'great acting, awful plot, a bad film, a good film']);
    expect(batched!.score).toBeCloseTo(alone!.score, 5);
    await classifier.release();
  });

  it("cuts RoBERTa texts at its position table less the padding rows, whatever its tokenizer's own limit", async () => {
    const classifier = await TextClassifier.load(await createTinyModel({ modelType: 'roberta', maxLength: 16 }), { threads: 1 });
    expect(classifier.maxLength).toBe(16);
    expect(classifier.tokenizer.usesFastEncoder).toBe(true);
    const [long] = await classifier.predict(['a good film '.repeat(50)]);
    expect(long!.tokens).toBe(16);
    const [alone] = await classifier.predict(['good']);
    const [batched] = await classifier.predict(['good', 'great acting, awful plot']);
    expect(batched!.score).toBeCloseTo(alone!.score, 5);
    await classifier.release();
  });
});

describe('session layout from the model size', () => {
  it('gives a small model one single-threaded session per core and a large one a single session on every core', () => {
    expect(defaultSessionLayout(5e6, 4)).toEqual({ sessions: 4, threads: 1 });
    expect(defaultSessionLayout(LARGE_MODEL_BYTES, 4)).toEqual({ sessions: 4, threads: 1 });
    expect(defaultSessionLayout(LARGE_MODEL_BYTES + 1, 4)).toEqual({ sessions: 1, threads: 4 });
  });

  it('loads by the ONNX file size unless told, and an explicit setting overrides one number only', async () => {
    const cores = availableParallelism();
    const small = await TextClassifier.load(await createTinyModel());
    expect(small.layout).toEqual({ sessions: cores, threads: 1 });
    await small.release();
    // Over 64 MiB of weights at little compute: a 140,000-wide feed-forward layer (72 MB).
    const wide = await createRandomModel({ shape: { hidden: 64, layers: 1, heads: 2, ffn: 140_000 } });
    const large = await TextClassifier.load(wide);
    expect(large.layout).toEqual({ sessions: 1, threads: cores });
    expect((await large.predict(['a good film']))[0]!.score).toBeGreaterThan(0);
    await large.release();
    const inline = await TextClassifier.load(wide, { sessions: 0 });
    expect(inline.layout).toEqual({ sessions: 0, threads: cores });
    await inline.release();
    await rm(wide, { recursive: true, force: true });
  }, 120_000);
});

describe('neededForInference', () => {
  it("leaves out only the training frameworks' weights", () => {
    const paths = [
      'config.json',
      'tokenizer.json',
      'onnx/model.onnx',
      'model.onnx',
      'onnx/model.onnx_data',
      'reference.json',
      'pytorch_model.bin',
      'model.safetensors',
      'sub/model-00001-of-00002.safetensors',
    ];
    expect(paths.filter(neededForInference)).toEqual([
      'config.json',
      'tokenizer.json',
      'onnx/model.onnx',
      'model.onnx',
      'onnx/model.onnx_data',
      'reference.json',
    ]);
  });
});

describe('lengthGroups', () => {
  it('covers every row once and bounds the padding of each group', () => {
    const lengths = [300, 12, 14, 512, 13, 290, 40, 41, 500, 16];
    const groups = lengthGroups(lengths);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const group of groups) {
      const rows = group.map((i) => lengths[i]!);
      expect(Math.max(...rows) * rows.length).toBeLessThanOrEqual(1.2 * rows.reduce((a, b) => a + b, 0) + 1e-9);
    }
    // Short texts travel together, long ones together.
    expect(groups.find((g) => g.includes(1))).toEqual(expect.arrayContaining([1, 2, 4]));
    expect(groups.find((g) => g.includes(3))).toEqual(expect.arrayContaining([3, 8]));
  });

  it('caps the padded tokens of one pass', () => {
    const groups = lengthGroups(Array.from({ length: 10 }, () => 512));
    expect(groups.map((g) => g.length)).toEqual([4, 4, 2]);
    expect(
      lengthGroups(
        Array.from({ length: 100 }, () => 20),
        0.2,
        1_000,
      ).map((g) => g.length),
    ).toEqual([50, 50]);
  });

  it('gives nothing for nothing', () => {
    expect(lengthGroups([])).toEqual([]);
  });
});
