import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generatedRatings, RATING_LABELS } from '@mlops/data/testing';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../bin/mlops.js');
const run = promisify(execFile);

/** Runs the real `mlops` command against a store of its own; returns exit code and the last stdout line as JSON. */
async function mlops(store: string, ...args: string[]): Promise<{ code: number; json: Record<string, unknown>; stderr: string }> {
  const env = { ...process.env, MLOPS_STORE: store, MLOPS_CACHE_DIR: join(store, '..', 'cache') };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env, maxBuffer: 1 << 24 });
    return { code: 0, json: JSON.parse(stdout.trim().split('\n').at(-1)!), stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, json: JSON.parse(e.stdout.trim().split('\n').at(-1) || '{}'), stderr: e.stderr };
  }
}

async function dataset(n: number, seed: number): Promise<string> {
  const words = { positive: ['great', 'superb', 'wonderful'], negative: ['awful', 'boring', 'dreadful'] };
  const rows = Array.from({ length: n }, (_, i) => {
    const label = (i + seed) % 2 ? 'positive' : 'negative';
    const word = words[label][(i * 7 + seed) % 3];
    return JSON.stringify({ id: String(i), text: `the film was ${word} and the plot number ${i}`, label });
  });
  const path = join(await mkdtemp(join(tmpdir(), 'cli-data-')), 'rows.jsonl');
  await writeFile(path, rows.join('\n'));
  return path;
}

describe('mlops CLI', () => {
  let store: string;
  let evalData: string;

  beforeAll(async () => {
    store = join(await mkdtemp(join(tmpdir(), 'cli-')), 'store');
    evalData = await dataset(100, 3);
    const train = await mlops(
      store,
      'train',
      '--data',
      await dataset(400, 1),
      '--eval',
      evalData,
      '--epochs',
      '4',
      '--max-length',
      '16',
      '--vocab-size',
      '100',
      '--batch-size',
      '16',
      '--lr',
      '0.003',
      '--json',
    );
    expect(train.code, train.stderr).toBe(0);
    expect(train.json).toMatchObject({ ok: true, version: 'v1', champion: true });
  }, 120_000);

  it('evaluates the champion with accuracy, per-class metrics and n', async () => {
    const { code, json } = await mlops(store, 'evaluate', '--data', evalData, '--alias', 'champion', '--json');
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, version: 'v1', n: 100 });
    expect(json.accuracy).toBeGreaterThan(0.9);
    expect(Object.keys(json.per_class as object)).toEqual(['negative', 'positive']);
  });

  it('predicts texts with a given version', async () => {
    const { code, json } = await mlops(store, 'predict', 'the film was superb', 'the film was dreadful', '--version', 'v1', '--json');
    expect(code).toBe(0);
    expect((json.predictions as { label: string }[]).map((p) => p.label)).toEqual(['positive', 'negative']);
  });

  it('lists versions and moves aliases with compare-and-swap', async () => {
    const list = await mlops(store, 'registry', 'list', '--json');
    expect((list.json.versions as { version: string }[]).map((v) => v.version)).toEqual(['v1']);
    const set = await mlops(store, 'registry', 'set-alias', 'challenger', 'v1', '--expect', 'none', '--json');
    expect(set.json).toMatchObject({ ok: true, alias: 'challenger', version: 'v1' });
    const again = await mlops(store, 'registry', 'set-alias', 'challenger', 'v1', '--expect', 'none', '--json');
    expect(again.code).toBe(0); // already there: a retry succeeds
  });

  it('rolls the champion back to the previous version, or to a named one', async () => {
    const registry = createRegistry(openStore(store));
    const v2 = await registry.registerVersion(await createTinyModel({ seed: 5 }), { actor: 'test', reason: 'fixture' });
    await registry.setAlias('champion', v2.version, { actor: 'test', reason: 'promoted' });
    const back = await mlops(store, 'registry', 'rollback', '--reason', 'bad outputs', '--json');
    expect(back.json).toMatchObject({ ok: true, from: 'v2', to: 'v1' });
    expect((await registry.getAlias('champion'))?.version).toBe('v1');
    expect((await registry.audit()).filter((e) => e.action === 'rollback').at(-1)).toMatchObject({
      from: 'v2',
      to: 'v1',
      reason: 'bad outputs',
    });
    const named = await mlops(store, 'registry', 'rollback', 'v9', '--json');
    expect(named.json).toMatchObject({ ok: false, code: 'UNKNOWN_VERSION' });
    // Promote's refusals reach the CLI as domain errors with their code.
    const none = await mlops(join(await mkdtemp(join(tmpdir(), 'cli-empty-')), 'store'), 'registry', 'rollback', '--json');
    expect(none).toMatchObject({
      code: 1,
      json: { ok: false, code: 'NO_EARLIER_CHAMPION', error: 'no earlier champion to roll back to; name a version' },
    });
  });

  it('fails clearly on unknown versions, missing data and bad flags', async () => {
    const unknown = await mlops(store, 'evaluate', '--data', evalData, '--version', 'v9', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.json).toMatchObject({ ok: false, code: 'UNKNOWN_VERSION' });
    expect(unknown.stderr).toMatch(/v9/);
    const show = await mlops(store, 'registry', 'show', 'v9', '--json');
    expect(show.json).toMatchObject({ ok: false, code: 'UNKNOWN_VERSION' });
    const missing = await mlops(store, 'evaluate', '--data', '/nope/test.jsonl', '--json');
    expect(missing.stderr).toMatch(/data file not found: \/nope\/test.jsonl/);
    const badFlag = await mlops(store, 'train', '--epochs', 'zero');
    expect(badFlag.code).not.toBe(0);
    expect(badFlag.stderr).toMatch(/must be a positive integer/);
  });
});

describe('mlops CLI on four classes in a CSV with other column names', () => {
  let store: string;
  let evalCsv: string;
  const fields = ['--text-field', 'review', '--label-field', 'stars_bin'];

  beforeAll(async () => {
    store = join(await mkdtemp(join(tmpdir(), 'cli-four-')), 'store');
    const dir = await mkdtemp(join(tmpdir(), 'cli-four-data-'));
    const csv = async (name: string, rows: { text: string; label: string }[]) => {
      const path = join(dir, name);
      await writeFile(path, ['review,stars_bin', ...rows.map((r) => `"${r.text}",${r.label}`)].join('\n'));
      return path;
    };
    evalCsv = await csv('eval.csv', generatedRatings(120, 5));
    const tiny = ['--epochs', '10', '--patience', '4', '--max-length', '32', '--vocab-size', '300', '--batch-size', '16', '--lr', '0.003'];
    const model = ['--dim', '32', '--n-layers', '1', '--n-heads', '2', '--hidden-dim', '64', '--validation-ratio', '0.1'];
    const train = await mlops(
      store,
      'train',
      '--data',
      await csv('train.csv', generatedRatings(600)),
      '--eval',
      evalCsv,
      ...fields,
      '--labels',
      RATING_LABELS.join(','),
      ...tiny,
      ...model,
      '--json',
    );
    expect(train.code, train.stderr).toBe(0);
    expect(train.json).toMatchObject({ ok: true, version: 'v1', champion: true });
  }, 180_000);

  it('trains, evaluates per class in the given class order, and scores, with --text-field and --label-field', async () => {
    const shown = await mlops(store, 'registry', 'show', 'v1', '--json');
    expect(shown.json).toMatchObject({ ok: true, version: 'v1', classes: [...RATING_LABELS] });
    const evaluated = await mlops(store, 'evaluate', '--data', evalCsv, ...fields, '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(Object.keys(evaluated.json.per_class as object)).toEqual([...RATING_LABELS]);
    expect(evaluated.json).toMatchObject({ n: 120, bad_rows: 0 });
    expect(evaluated.json.accuracy).toBeGreaterThan(0.8);

    const scored = await mlops(store, 'score', evalCsv, '--text-field', 'review', '--json');
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.json).toMatchObject({ ok: true, rows: 120, bad_rows: 0, model_version: 'v1' });
    const [first] = (await readFile(scored.json.output as string, 'utf8')).trim().split('\n');
    expect(Object.keys(JSON.parse(first!).probabilities)).toEqual([...RATING_LABELS]);

    const predicted = await mlops(store, 'predict', 'the film was a sublime masterpiece', '--json');
    const [prediction] = predicted.json.predictions as { label: string; probabilities: Record<string, number> }[];
    expect(RATING_LABELS).toContain(prediction!.label);
    expect(Object.keys(prediction!.probabilities)).toEqual([...RATING_LABELS]);
  });

  it('names the missing column and the columns there are, and refuses a bad class list', async () => {
    const missing = await mlops(store, 'evaluate', '--data', evalCsv, '--json');
    expect(missing.json).toMatchObject({
      ok: false,
      code: 'DATA_ERROR',
      error: expect.stringContaining('CSV header has no "text", "label" columns (columns: review, stars_bin)'),
    });
    const oneClass = await mlops(store, 'train', '--data', evalCsv, '--labels', 'good', '--json');
    expect(oneClass.code).not.toBe(0);
    expect(oneClass.stderr).toMatch(/--labels.*must name at least 2 labels/);
  });
});

describe('mlops registry import', () => {
  it('registers an ONNX-only Hugging Face folder with a drift reference and eval metrics, and names what a folder lacks', async () => {
    const store = join(await mkdtemp(join(tmpdir(), 'cli-import-')), 'store');
    const folder = await createTinyModel({ leaning: 0 });
    for (const file of ['pytorch_model.bin', 'metrics.json', 'lineage.json']) await rm(join(folder, file));
    const rows = Array.from({ length: 120 }, (_, i) => ({ review: `review number ${i}`, sentiment: 'negative' }));
    const data = join(await mkdtemp(join(tmpdir(), 'cli-import-data-')), 'rows.jsonl');
    await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n'));

    const imported = await mlops(
      store,
      'registry',
      'import',
      folder,
      '--reference',
      data,
      '--eval',
      data,
      '--text-field',
      'review',
      '--label-field',
      'sentiment',
      '--json',
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.json).toMatchObject({
      ok: true,
      version: 'v1',
      champion: true,
      classes: ['negative', 'positive'],
      metrics: { n: 120, accuracy: 1 },
      reference: { n: 120 },
    });
    const paths = (imported.json.files as { path: string }[]).map((f) => f.path);
    expect(paths).toContain('onnx/model.onnx');
    expect(paths).not.toContain('pytorch_model.bin');

    await rm(join(folder, 'tokenizer.json'));
    const refused = await mlops(store, 'registry', 'import', folder, '--json');
    expect(refused).toMatchObject({
      code: 1,
      json: { ok: false, code: 'MODEL_LOAD_ERROR', error: expect.stringMatching(/has no tokenizer\.json/) },
    });
  });
});
