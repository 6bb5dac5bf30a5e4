import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataError, fieldOptions, fingerprint, stratifiedSplit, type DataReport, type Example } from '@mlops/data';
import { TextClassifier } from '@mlops/inference';
import { classificationMetrics, evaluateOnDataset, roundTo, scoreReference, type DatasetEvaluation } from '@mlops/monitoring';
import type { ModelRegistry, VersionInfo } from '@mlops/registry';
import { jsonText } from '@mlops/storage';
import { TextTokenizer } from '@mlops/tokenizer';
import { coreJob } from './core-job.ts';
import type { CoreEvent, DoneEvent } from './events.ts';
import { fineTuneHyperparametersSchema, hyperparametersSchema, type Hyperparameters } from './hyperparameters.ts';
import { describeBase, loadBaseTokenizer } from './base-model.ts';
import { checkOnnxParity } from './parity.ts';
import { checkPythonCore, runPythonCore } from './python-core.ts';
import { writeShards } from './shards.ts';
import { readTrainingData } from './training-data.ts';

export type TrainProgress =
  { phase: 'prepare'; message: string } | { phase: 'core'; event: CoreEvent } | { phase: 'evaluate'; done: number; total: number };

export interface TrainOptions {
  data: string;
  /** Scored after training with the exported ONNX model; its metrics go into metrics.json. */
  eval?: string;
  /**
   * A Hugging Face DistilBERT, BERT or RoBERTa folder to fine-tune: config.json, model.safetensors or
   * pytorch_model.bin (sharded or not), tokenizer.json (or BERT's vocab.txt). See base-model.ts.
   */
  base?: string;
  /** The registry version `base` was downloaded from, for lineage. */
  parentVersion?: string;
  /** Missing ones take their defaults (TRAINING_SETTINGS); a base model keeps its own max length unless one is given. */
  hyper?: Partial<Hyperparameters>;
  registry: ModelRegistry;
  python: string;
  actor: string;
  reason?: string;
  /**
   * The classes in order (e.g. a registered base version's id2label): a row with any other label
   * stops the job, naming it. Default: the sorted distinct labels of the training data.
   */
  labels?: string[] | undefined;
  /** Where the text and label are in `data` and `eval` (CSV columns or JSON keys; default "text" and "label"). */
  textField?: string | undefined;
  labelField?: string | undefined;
  onProgress?: (progress: TrainProgress) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  version: VersionInfo;
  champion: boolean;
  metrics: Record<string, DatasetEvaluation['metrics']>;
  parity: { maxAbsDiff: number; rows: number };
  timings: Record<string, number>;
}

/**
 * The training job: read and split data, tokenize into shards, train and export with the PyTorch
 * core, check ONNX against PyTorch, evaluate, and register. Nothing is registered unless every step passes.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  const hyper: Hyperparameters = (opts.base ? fineTuneHyperparametersSchema : hyperparametersSchema).parse(opts.hyper ?? {});
  const say = (message: string) => opts.onProgress?.({ phase: 'prepare', message });
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      timings[name] = roundTo((performance.now() - start) / 1000, 2);
    }
  };
  const jobStart = performance.now();

  const environment = await timed('check_python', () => checkPythonCore(opts.python));
  const work = await mkdtemp(join(tmpdir(), 'mlops-train-'));
  const out = join(work, 'model');
  try {
    const { examples, report, labels } = await timed('read_data', () =>
      readTrainingData(opts.data, { ...opts, fixedBy: opts.parentVersion && `fine-tuning ${opts.parentVersion}` }),
    );
    const { train, validation } = stratifiedSplit(examples, { validationRatio: hyper.validationRatio, seed: hyper.seed });
    say(
      `data: ${report.good} rows (${report.bad} bad, ${report.duplicates} duplicates) → ${train.length} train / ${validation.length} validation`,
    );
    say(`classes: ${labels.join(', ')}`);
    for (const bad of report.badRows.slice(0, 10)) say(`  skipped line ${bad.line}: ${bad.reason}`);
    if (report.bad > 10) say(`  … ${report.bad - 10} more bad rows (${JSON.stringify(report.badByReason)})`);
    if (validation.length === 0 || train.length === 0) {
      throw new DataError(`${opts.data}: ${examples.length} usable rows are too few to split into train and validation`);
    }

    const tokenizer = await timed('tokenizer', () =>
      opts.base
        ? // The base's own length unless one is asked for: its position embeddings fix the ceiling.
          loadBaseTokenizer(opts.base, opts.hyper?.maxLength)
        : TextTokenizer.train(
            train.map((e) => e.text),
            { vocabSize: hyper.vocabSize, maxLength: hyper.maxLength },
          ),
    );
    say(`tokenizer: ${opts.base ? 'loaded from base' : 'trained'}, ${tokenizer.vocabSize} tokens, max length ${tokenizer.maxLength}`);

    await timed('tokenize_and_shard', async () => {
      const encode = async (rows: Example[]) => ({
        ids: (await tokenizer.encode(rows.map((e) => e.text))).ids,
        labels: rows.map((e) => labels.indexOf(e.label!)),
      });
      await writeShards(
        work,
        { train: await encode(train), validation: await encode(validation) },
        { maxLength: tokenizer.maxLength, vocabSize: tokenizer.vocabSize, padId: tokenizer.padId, labels },
      );
      await tokenizer.save(out);
    });
    say(`shards written in ${timings.tokenize_and_shard}s`);

    const jobPath = join(work, 'job.json');
    await writeFile(jobPath, jsonText(coreJob(hyper, { work, out, base: opts.base ?? null, labels })));
    const done: DoneEvent = await timed('train_and_export', () =>
      runPythonCore(
        opts.python,
        jobPath,
        (event) => {
          // Fine-tuning: say which weights the base gave and which start fresh.
          if (event.event === 'base') say(describeBase(event));
          opts.onProgress?.({ phase: 'core', event });
        },
        opts.signal,
      ),
    );
    // The PyTorch steps alone, as the core measured them (the rest is start-up, validation, export).
    timings.core_train = done.train_seconds;
    timings.core_export = done.export_seconds;

    const classifier = await TextClassifier.load(out);
    try {
      const parity = await timed('onnx_parity', () => checkOnnxParity(classifier, join(work, 'parity.json')));
      say(`ONNX parity: max |logit difference| ${parity.maxAbsDiff.toExponential(2)} on ${parity.rows} validation rows`);

      const metrics: Record<string, DatasetEvaluation['metrics']> = {};
      const evalData: Record<string, DatasetEvaluation['data']> = {};
      await timed('evaluate', async () => {
        // The validation predictions are the baseline production inputs and outputs are compared with.
        const { reference, predictions } = await scoreReference(
          classifier,
          'validation',
          validation.map((e) => e.text),
        );
        metrics.validation = classificationMetrics(
          validation.map((e) => e.label!),
          predictions.map((p) => p.label),
          classifier.labels,
        );
        await writeFile(join(out, 'reference.json'), JSON.stringify(reference));
        if (opts.eval) {
          const evaluation = await evaluateOnDataset(classifier, opts.eval, {
            read: fieldOptions(opts),
            onProgress: (d, total) => opts.onProgress?.({ phase: 'evaluate', done: d, total }),
          });
          metrics.eval = evaluation.metrics;
          evalData.eval = evaluation.data;
        }
      });

      await writeFile(join(out, 'metrics.json'), jsonText(metrics));
      const lineage = {
        data: {
          train: dataLineage(report, train),
          validation: { rows: validation.length, fingerprint: fingerprint(validation) },
          ...evalData,
        },
        params: {
          ...hyper,
          maxLength: tokenizer.maxLength,
          labels,
          base: opts.base ?? null,
          best_epoch: done.best_epoch,
          steps: done.steps,
        },
        model_config: done.config,
        parent: opts.parentVersion ?? null,
        code_revision: await gitRevision(),
        onnx_parity_max_abs_diff: parity.maxAbsDiff,
        timings,
        environment: {
          node: process.version,
          torch: environment.torch,
          numpy: environment.numpy,
          platform: `${process.platform}-${process.arch}`,
          cpu: cpus()[0]?.model ?? 'unknown',
          cores: availableParallelism(),
        },
      };
      await writeFile(join(out, 'lineage.json'), jsonText(lineage));

      const version = await timed('register', () =>
        opts.registry.registerVersion(out, {
          actor: opts.actor,
          reason: opts.reason ?? `trained on ${opts.data}`,
          ...(opts.parentVersion ? { parent: opts.parentVersion } : {}),
        }),
      );
      const champion = (await opts.registry.getAlias('champion'))?.version === version.version;
      timings.total = roundTo((performance.now() - jobStart) / 1000, 2);
      return { version, champion, metrics, parity, timings };
    } finally {
      await classifier.release();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function dataLineage(report: DataReport, train: Example[]) {
  return {
    source: report.source,
    rows: report.rows,
    bad: report.bad,
    duplicates: report.duplicates,
    fingerprint: report.fingerprint,
    bad_by_reason: report.badByReason,
    bad_rows: report.badRows,
    train_rows: train.length,
    train_fingerprint: fingerprint(train),
  };
}

async function gitRevision(): Promise<string> {
  try {
    const run = promisify(execFile);
    const { stdout: head } = await run('git', ['rev-parse', 'HEAD']);
    const { stdout: status } = await run('git', ['status', '--porcelain', '--untracked-files=no']);
    return `${head.trim()}${status.trim() ? '-dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}
