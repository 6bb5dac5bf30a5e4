import { z } from 'zod';

/**
 * Where a setting is used: the job file's `train` or `model` section (read by the PyTorch core), or
 * only here in TypeScript (the data split and the tokenizer).
 */
export type SettingSection = 'train' | 'model' | 'orchestrator';

export interface TrainingSetting {
  /** Parses a command-line string or a number (flags arrive as text). */
  type: z.ZodType<number>;
  default: number;
  /** The default when fine-tuning a base model instead, where that differs. */
  fineTuneDefault?: number;
  section: SettingSection;
  description: string;
}

/** A number check whose message reads well after a flag name ("--epochs: must be a positive integer"). */
function number(message: string, accepts: (n: number) => boolean): z.ZodType<number> {
  return z.coerce.number({ error: message }).refine(accepts, { error: message });
}

const positiveInteger = number('must be a positive integer', (n) => Number.isInteger(n) && n > 0);
const nonNegativeInteger = number('must be a non-negative integer', (n) => Number.isInteger(n) && n >= 0);
const positiveNumber = number('must be a positive number', (n) => n > 0);
const nonNegativeNumber = number('must be a non-negative number', (n) => n >= 0);
const zeroToOne = number('must be between 0 and 1', (n) => n >= 0 && n <= 1);
const dropoutRate = number('must be at least 0 and below 1', (n) => n >= 0 && n < 1);
const splitRatio = number('must be above 0 and below 1', (n) => n > 0 && n < 1);

/**
 * Every training setting with its one default: the job file, the trainer's own flags and `mlops
 * train`'s flags are all built from this table. Keys are the TypeScript names; the flag is the key
 * in kebab case (--max-length) and the job file's key in snake case (max_length).
 *
 * Defaults chosen by profiling on 2 CPU cores: docs/benchmarks.md has the profile and the trainings they give.
 */
export const TRAINING_SETTINGS = {
  epochs: { type: positiveInteger, default: 2, section: 'train', description: 'training epochs (early stopping may end sooner)' },
  maxLength: {
    type: positiveInteger,
    default: 512,
    section: 'orchestrator',
    description: "tokens per text (fine-tuning: the base model's own unless given)",
  },
  vocabSize: {
    type: positiveInteger,
    default: 16_000,
    section: 'orchestrator',
    description: 'WordPiece vocabulary size when training a tokenizer',
  },
  validationRatio: {
    type: splitRatio,
    default: 0.05,
    section: 'orchestrator',
    description: 'share of the data held out for validation and early stopping',
  },
  batchSize: { type: positiveInteger, default: 32, section: 'train', description: 'training batch size' },
  lr: {
    type: positiveNumber,
    default: 1e-3,
    // A pre-trained encoder forgets what it knows at the from-scratch rate; 5e-5 is the top of the
    // range BERT's authors fine-tuned with (2e-5 to 5e-5).
    fineTuneDefault: 5e-5,
    section: 'train',
    description: 'peak learning rate (AdamW); fine-tuning a base model: 5e-5 unless given',
  },
  weightDecay: {
    type: nonNegativeNumber,
    default: 0.01,
    section: 'train',
    description: 'AdamW weight decay (none on biases and LayerNorm weights)',
  },
  warmupRatio: {
    type: zeroToOne,
    default: 0.06,
    section: 'train',
    description: 'share of the steps the learning rate warms up over before decaying linearly',
  },
  maxGradNorm: {
    type: positiveNumber,
    default: 1.0,
    section: 'train',
    description: 'gradient clipping: the largest gradient norm a step may take',
  },
  patience: {
    type: positiveInteger,
    default: 1,
    section: 'train',
    description: 'epochs without a better validation score before stopping early',
  },
  seed: {
    type: nonNegativeInteger,
    default: 42,
    section: 'train',
    description: 'random seed of the split, the initial weights and the batch order',
  },
  dim: {
    type: positiveInteger,
    default: 64,
    section: 'model',
    description: 'hidden size (from scratch only: a base model keeps its own shape)',
  },
  nLayers: { type: positiveInteger, default: 2, section: 'model', description: 'transformer layers (from scratch only)' },
  nHeads: { type: positiveInteger, default: 4, section: 'model', description: 'attention heads, dividing --dim (from scratch only)' },
  hiddenDim: { type: positiveInteger, default: 256, section: 'model', description: 'feed-forward size (from scratch only)' },
  dropout: {
    type: dropoutRate,
    default: 0.1,
    section: 'model',
    description: 'dropout on embeddings and feed-forward outputs (from scratch only)',
  },
  // Dropout on the attention matrix slows a CPU step markedly (docs/benchmarks.md): off by default.
  attentionDropout: {
    type: dropoutRate,
    default: 0,
    section: 'model',
    description: 'dropout on attention weights, 0 skips it (from scratch only)',
  },
  classifierDropout: {
    type: dropoutRate,
    default: 0.2,
    section: 'model',
    description: 'dropout before the classification head (from scratch only)',
  },
  initializerRange: {
    type: positiveNumber,
    default: 0.02,
    section: 'model',
    description: 'standard deviation of the initial weights (from scratch only)',
  },
  lengthPoolBatches: {
    type: positiveInteger,
    default: 50,
    section: 'train',
    description: 'batches sorted by length together: more means less padding but a less random batch order',
  },
  evalBatchSize: { type: positiveInteger, default: 128, section: 'train', description: 'batch size of the validation passes' },
  logEvery: { type: positiveInteger, default: 10, section: 'train', description: 'training steps between progress events' },
  parityRows: {
    type: positiveInteger,
    default: 64,
    section: 'train',
    description: 'validation rows the ONNX export is checked against PyTorch on',
  },
} satisfies Record<string, TrainingSetting>;

export type HyperparameterName = keyof typeof TRAINING_SETTINGS;
export type Hyperparameters = Record<HyperparameterName, number>;

export const HYPERPARAMETER_NAMES = Object.keys(TRAINING_SETTINGS) as HyperparameterName[];

function eachSetting<R>(make: (setting: TrainingSetting, name: HyperparameterName) => R): Record<HyperparameterName, R> {
  return Object.fromEntries(HYPERPARAMETER_NAMES.map((name) => [name, make(TRAINING_SETTINGS[name], name)])) as Record<
    HyperparameterName,
    R
  >;
}

export const DEFAULT_HYPERPARAMETERS: Readonly<Hyperparameters> = Object.freeze(eachSetting((s) => s.default));

/** Complete hyperparameters: what is missing takes its default, unknown names are refused. */
export const hyperparametersSchema = z.strictObject(eachSetting((s) => s.type.default(s.default)));

/** The same when fine-tuning a base model: what is missing takes its fine-tuning default where one is set. */
export const fineTuneHyperparametersSchema = z.strictObject(eachSetting((s) => s.type.default(s.fineTuneDefault ?? s.default)));

/** Only the hyperparameters given: a missing one stays missing (a base model keeps its own length). */
export const givenHyperparametersSchema = z.strictObject(eachSetting((s) => s.type.optional()));

/** maxLength → max-length */
export function flagName(name: HyperparameterName): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** maxLength → max_length, the job file's name. */
export function jobKey(name: HyperparameterName): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
