import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadSettings } from '@mlops/config';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { coreJob } from './core-job.ts';
import { DEFAULT_HYPERPARAMETERS, fineTuneHyperparametersSchema, hyperparametersSchema } from './hyperparameters.ts';
import { parseJobArgs } from './job-args.ts';

const PYTHON = loadSettings().MLOPS_PYTHON;
const PYTHON_ROOT = resolve(import.meta.dirname, '..', 'python');

/** The job file as the PyTorch core's loader reads it back (it refuses missing and unknown keys). */
async function loadedByPython(job: object): Promise<unknown> {
  const path = join(await mkdtemp(join(tmpdir(), 'trainer-job-')), 'job.json');
  await writeFile(path, JSON.stringify(job));
  const script =
    'import dataclasses, json, sys\nfrom mlops_trainer.job import load_job\nprint(json.dumps(dataclasses.asdict(load_job(json.load(open(sys.argv[1]))))))';
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, path], { env: { ...process.env, PYTHONPATH: PYTHON_ROOT } });
  return JSON.parse(stdout);
}

describe('training settings', () => {
  it('default to the configuration measured in docs/benchmarks.md', () => {
    expect(DEFAULT_HYPERPARAMETERS).toEqual({
      epochs: 2,
      maxLength: 512,
      vocabSize: 16_000,
      validationRatio: 0.05,
      batchSize: 32,
      lr: 1e-3,
      weightDecay: 0.01,
      warmupRatio: 0.06,
      maxGradNorm: 1,
      patience: 1,
      seed: 42,
      dim: 64,
      nLayers: 2,
      nHeads: 4,
      hiddenDim: 256,
      dropout: 0.1,
      attentionDropout: 0,
      classifierDropout: 0.2,
      initializerRange: 0.02,
      lengthPoolBatches: 50,
      evalBatchSize: 128,
      logEvery: 10,
      parityRows: 64,
    });
  });

  it('fill in what is missing and refuse names they do not know', () => {
    expect(hyperparametersSchema.parse({ epochs: 5 })).toEqual({ ...DEFAULT_HYPERPARAMETERS, epochs: 5 });
    expect(() => hyperparametersSchema.parse({ epoch: 5 })).toThrow(/epoch/);
    expect(() => hyperparametersSchema.parse({ dropout: 1 })).toThrow(/must be at least 0 and below 1/);
  });

  it('fine-tune a base model at 5e-5 unless a rate is given, all else as from scratch', () => {
    expect(fineTuneHyperparametersSchema.parse({ epochs: 5 })).toEqual({ ...DEFAULT_HYPERPARAMETERS, epochs: 5, lr: 5e-5 });
    expect(fineTuneHyperparametersSchema.parse({ lr: 1e-3 }).lr).toBe(1e-3);
  });

  it('write a job file whose every key the PyTorch core reads, and nothing else', async () => {
    const hyper = { ...DEFAULT_HYPERPARAMETERS, weightDecay: 0.02, warmupRatio: 0.1, maxGradNorm: 0.5 };
    const fresh = coreJob(hyper, { work: '/w', out: '/w/model', base: null, labels: ['negative', 'positive'] });
    expect(await loadedByPython(fresh)).toEqual(fresh);
    expect(fresh.train).toMatchObject({ weight_decay: 0.02, warmup_ratio: 0.1, max_grad_norm: 0.5, batch_size: 32 });
    expect(fresh.model).toMatchObject({ n_layers: 2, classifier_dropout: 0.2 });

    const fineTune = coreJob(hyper, { work: '/w', out: '/w/model', base: '/base', labels: ['negative', 'positive'] });
    expect(fineTune.model).toBeNull();
    expect(await loadedByPython(fineTune)).toEqual(fineTune);
  });
});

describe('parseJobArgs', () => {
  it('reads every hyperparameter flag, keeping only those given', () => {
    const args = parseJobArgs([
      '--data',
      'store:d.jsonl',
      '--base-version',
      'v3',
      '--epochs',
      '3',
      '--lr',
      '5e-4',
      '--warmup-ratio',
      '0',
      '--max-grad-norm',
      '0.5',
      '--n-layers',
      '4',
    ]);
    expect(args).toMatchObject({ data: 'store:d.jsonl', baseVersion: 'v3' });
    expect(args.hyper).toEqual({ epochs: 3, lr: 5e-4, warmupRatio: 0, maxGradNorm: 0.5, nLayers: 4 });
    expect(parseJobArgs(['--data', 'd.jsonl']).hyper).toEqual({});
  });

  it('names a bad or unknown flag', () => {
    const badValue = (() => {
      try {
        return parseJobArgs(['--data', 'd', '--epochs', 'zero']);
      } catch (error) {
        return error;
      }
    })();
    expect(badValue).toBeInstanceOf(z.ZodError);
    expect(z.prettifyError(badValue as z.ZodError)).toBe('✖ must be a positive integer\n  → at epochs');
    expect(() => parseJobArgs(['--data', 'd', '--learning-rate', '1'])).toThrow(/--learning-rate/);
  });
});
