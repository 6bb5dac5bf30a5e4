import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/mlops.js');
const run = promisify(execFile);

describe('mlops score', () => {
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-score-'));
    const store = join(dir, 'store');
    await createRegistry(openStore(store)).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
    env = { ...process.env, MLOPS_STORE: store, MLOPS_CACHE_DIR: join(dir, 'cache') };
  }, 60_000);

  it('scores a local file with the champion: predictions, errors and summary beside it', async () => {
    const input = join(dir, 'reviews.jsonl');
    await writeFile(input, ['{"id":"1","text":"a good film"}', 'oops', '{"id":"2","text":"awful plot"}'].join('\n'));
    const { stdout, stderr } = await run(process.execPath, [BIN, 'score', input, '--json'], { env });
    expect(stderr).toMatch(/scoring .*reviews.jsonl with v1/);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({
      ok: true,
      input,
      output: `${input}.predictions.jsonl`,
      errors: `${input}.errors.jsonl`,
      rows: 2,
      bad_rows: 1,
      model_version: 'v1',
    });
    const predictions = (await readFile(`${input}.predictions.jsonl`, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(predictions.map((p) => [p.id, p.line, p.model_version])).toEqual([
      ['1', 1, 'v1'],
      ['2', 3, 'v1'],
    ]);
    expect(JSON.parse(await readFile(`${input}.errors.jsonl`, 'utf8'))).toEqual({ line: 2, reason: 'invalid JSON' });
    expect({ ok: true, ...JSON.parse(await readFile(`${input}.summary.json`, 'utf8')) }).toEqual(summary);
  });

  it('writes to a named output with a given version, and fails clearly on a missing input', async () => {
    const input = join(dir, 'more.csv');
    await writeFile(input, 'text\na good film\n');
    const output = join(dir, 'out', 'more.predictions.jsonl');
    const { stdout } = await run(process.execPath, [BIN, 'score', input, join(dir, 'more.predictions.jsonl'), '--version', 'v1'], { env });
    expect(stdout).toMatch(/1 rows scored with v1 .* -> .*more.predictions.jsonl\nno bad rows/);
    expect(JSON.parse(await readFile(join(dir, 'more.summary.json'), 'utf8'))).toMatchObject({ rows: 1, errors: null });

    const missing = await run(process.execPath, [BIN, 'score', join(dir, 'nope.jsonl'), output, '--json'], { env }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(missing).toMatchObject({ code: 1 });
    expect(JSON.parse((missing as { stdout: string }).stdout)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/input file not found: .*nope.jsonl/),
    });
  });
});
