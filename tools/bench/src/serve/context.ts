/** What every measurement shares, prepared once: options, the champion's folder, the texts and their tokens. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultData, loadSettings, type Settings } from '@mlops/config';
import { readExamples } from '@mlops/data';
import { downloadForInference, TextClassifier } from '@mlops/inference';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';

const SAMPLE_ROWS = 512;

export interface BenchOptions {
  /** Per timed measurement. */
  seconds: number;
  /** Rows of IMDB unsup for batch-score; all of them when undefined. */
  rowCap: number | undefined;
  /** Cold starts per host and model cache; the median is reported. */
  coldRuns: number;
  /** Measurement names from --only; every measurement when undefined. */
  only: string[] | undefined;
  /** What is measured: a model folder (--model), a version of the store (--version), else its champion. */
  model: { dir: string } | { version: string } | undefined;
}

export function parseBenchOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string' },
      rows: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      model: { type: 'string' },
      version: { type: 'string' },
    },
  });
  if (values.model && values.version) throw new Error('--model and --version name the model twice: give one');
  const positive = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number (got "${raw}")`);
    return n;
  };
  return {
    seconds: values.seconds ? positive('seconds', values.seconds) : values.quick ? 2 : 10,
    rowCap: values.rows ? Math.floor(positive('rows', values.rows)) : values.quick ? 2_000 : undefined,
    coldRuns: values.quick ? 1 : 3,
    only: values.only
      ?.split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
    model: values.model ? { dir: values.model } : values.version ? { version: values.version } : undefined,
  };
}

export interface BenchContext extends Omit<BenchOptions, 'only' | 'model'> {
  settings: Settings;
  version: string;
  /** Scratch space, removed at the end of the run. */
  work: string;
  /** The model cache the champion was downloaded into (MLOPS_CACHE_DIR for the servers started). */
  cacheDir: string;
  /** The champion's folder, ready for inference. */
  modelDir: string;
  onnxBytes: number;
  threads: number;
  /** The first IMDB test reviews, and SST-2 sentences: short texts, where batching pays most. */
  reviews: string[];
  sentences: string[];
  /** Their token ids, sorted by length: raw batches of similar lengths, the best case a batcher can reach. */
  reviewTokens: number[][];
  sentenceTokens: number[][];
  /** Ours as served by default: its sessions chosen from the model's size (`defaultSessionLayout`). */
  classifier: TextClassifier;
  /** Environment for the servers and bundles started: this store, the warm cache, quiet logs. */
  childEnv: NodeJS.ProcessEnv;
  progress(message: string): void;
}

export interface PreparedBench {
  context: BenchContext;
  /** Idempotent: the runner calls it once no measurement left uses the classifier. */
  releaseClassifier(): Promise<void>;
  /** Releases everything and removes the scratch space. */
  dispose(): Promise<void>;
}

export const progress = (message: string): void => console.error(`[bench:serve] ${message}`);

async function firstTexts(input: string): Promise<string[]> {
  const texts: string[] = [];
  for await (const example of readExamples(input, { requireLabel: false })) {
    texts.push(example.text);
    if (texts.length === SAMPLE_ROWS) break;
  }
  return texts;
}

async function tokensByLength(classifier: TextClassifier, texts: string[]): Promise<number[][]> {
  return [...(await classifier.tokenizer.encode(texts)).ids].sort((a, b) => a.length - b.length);
}

/**
 * The registry whose champion is measured. A folder or a named version is registered in a scratch
 * store of its own, as its champion, so the servers and bundles started load it the way a deployment
 * would (and the registration is timed). Fails before any download when there is nothing to measure.
 */
async function benchRegistry(options: BenchOptions, settings: Settings, work: string): Promise<ModelRegistry> {
  const registry = createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL);
  if (options.model === undefined) {
    if (await registry.getAlias('champion')) return registry;
    throw new Error(
      `no champion for model "${settings.MLOPS_MODEL}" in ${registry.store.uri}: train one (npm start), point MLOPS_STORE at a store that has one, or pass --model DIR`,
    );
  }
  const dir = 'dir' in options.model ? options.model.dir : await registry.downloadVersion(options.model.version, join(work, 'source'));
  const scratch = createRegistry(openStore(join(work, 'store')), settings.MLOPS_MODEL);
  const t0 = performance.now();
  await scratch.registerVersion(dir, { actor: 'bench:serve', reason: `measuring ${dir}` });
  progress(`registered ${dir} in ${((performance.now() - t0) / 1000).toFixed(2)} s (a scratch store)`);
  return scratch;
}

export async function prepareBench(options: BenchOptions): Promise<PreparedBench> {
  const settings = loadSettings();
  const work = await mkdtemp(join(tmpdir(), 'mlops-serve-bench-'));
  let classifier: TextClassifier | undefined;
  let released = false;
  const releaseClassifier = async () => {
    if (released || !classifier) return;
    released = true;
    await classifier.release();
  };
  const dispose = async () => {
    await releaseClassifier();
    await rm(work, { recursive: true, force: true });
  };
  try {
    const registry = await benchRegistry(options, settings, work);
    const champion = (await registry.getAlias('champion'))!;
    const cacheDir = join(work, 'cache');
    progress(`downloading ${settings.MLOPS_MODEL} ${champion.version} from ${registry.store.uri}`);
    const modelDir = await downloadForInference(registry, champion.version, cacheDir);
    const onnxBytes = (await stat(join(modelDir, 'onnx', 'model.onnx'))).size;
    const reviews = await firstTexts(defaultData(settings).eval);
    const sentences = await firstTexts(join(settings.MLOPS_DATA_DIR, 'sst2', 'train.jsonl.gz'));
    const threads = availableParallelism();
    classifier = await TextClassifier.load(modelDir);
    const context: BenchContext = {
      seconds: options.seconds,
      rowCap: options.rowCap,
      coldRuns: options.coldRuns,
      settings,
      version: champion.version,
      work,
      cacheDir,
      modelDir,
      onnxBytes,
      threads,
      reviews,
      sentences,
      reviewTokens: await tokensByLength(classifier, reviews),
      sentenceTokens: await tokensByLength(classifier, sentences),
      classifier,
      childEnv: {
        ...process.env,
        MLOPS_STORE: registry.store.uri,
        MLOPS_CACHE_DIR: cacheDir,
        LOG_LEVEL: 'warn',
        PREDICT_LOG_SAMPLE_RATE: '0',
      },
      progress,
    };
    return { context, releaseClassifier, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
