/**
 * Memory, CPU and Lambda /tmp from the size of the model a function serves: the only place with
 * these numbers. FUNCTION_SPECS (config.ts) is the floor; a model too big for it raises memory, and
 * on GCP the CPU that memory requires. The constants come from measurements at DistilBERT-base
 * size (docs/benchmarks.md, Real size).
 */
import type { FunctionName, FunctionSpec } from './config.ts';

/** The project's own default model is about 5 MB of ONNX; sizing without a model option assumes this. */
export const DEFAULT_MODEL_MIB = 8;

/** Node, onnxruntime-node and the tokenizer with no model to speak of: predict served a 5 MB model in 250–300 MiB. */
export const RUNTIME_BASE_MIB = 384;

/**
 * Resident memory of one loaded model (one onnxruntime session, as sessions are laid out above
 * 64 MiB) per MiB of its ONNX file, under load: its weights plus onnxruntime's buffers. Measured
 * 1.7–2.2 at DistilBERT- and BERT-base size (predict's RSS less a small model's); with the runtime
 * below, one model's sizing is 11–19% above the largest RSS measured.
 */
export const MODEL_RSS_FACTOR = 2.25;

/**
 * Models loaded at once at the worst moment. A ModelWatcher loads the new version before retiring
 * the old one (libs/inference/src/model-watcher.ts). predict runs two watchers, champion and
 * challenger (apps/predict/src/service.ts), so a moved alias during a canary makes three; batch-score
 * runs one watcher; promote's gate loads champion and candidate together (apps/promote/src/promote.ts).
 */
export const MODELS_HELD: Readonly<Record<FunctionName, number>> = {
  predict: 3,
  'batch-score': 2,
  evaluate: 0,
  'retrain-trigger': 0,
  promote: 2,
};

/** Per cached version, the files beside the ONNX model (tokenizer.json, config.json, version.json, stamps). */
export const CACHE_FILES_BESIDE_MODEL_MIB = 8;

/** Lambda's limits (MB there are MiB): memorySize, and ephemeral /tmp, which is 512 unless set. */
export const LAMBDA_MEMORY_MIB = { max: 10_240, step: 64 } as const;
export const LAMBDA_EPHEMERAL_MIB = { default: 512, max: 10_240, step: 512 } as const;

/** Cloud Run's and Cloud Functions gen2's memory ceiling and the step sizes are rounded to here. */
export const GCP_MEMORY_MIB = { max: 32 * 1024, step: 256 } as const;
/** Minimum CPUs for more memory than `aboveMiB` (Cloud Run and Cloud Functions gen2 "memory limits" docs), largest first. */
export const GCP_MIN_CPU_FOR_MEMORY: readonly { aboveMiB: number; cpu: number }[] = [
  { aboveMiB: 24 * 1024, cpu: 8 },
  { aboveMiB: 16 * 1024, cpu: 6 },
  { aboveMiB: 8 * 1024, cpu: 4 },
  { aboveMiB: 4 * 1024, cpu: 2 },
];

/**
 * Where the model cache lives: on disk (Lambda's /tmp, its own quota) or in memory (Cloud Run and
 * Cloud Functions gen2 mount /tmp in memory, so cached files count against the instance's memory).
 */
export type ModelCache = 'disk' | 'memory';

export interface Sizing {
  memoryMiB: number;
  cpu: number;
  /** Lambda's /tmp, only when the cache needs more than its default. */
  ephemeralStorageMiB?: number;
  /** How the numbers came about, for the dry run's log. */
  reasons: string[];
}

/** A function's spec with its sizing for one model and provider: what the providers deploy. */
export type SizedSpec = FunctionSpec & Sizing;

export class SizingError extends Error {
  override readonly name = 'SizingError';
}

const roundUp = (value: number, step: number): number => Math.ceil(value / step) * step;
const mib = (value: number): string => `${Number(value.toFixed(1))} MiB`;

/** The sizing of `spec` for a model of `modelMiB` MiB of ONNX with its cache on disk or in memory. */
export function sizeFunction(spec: FunctionSpec, modelMiB: number, cache: ModelCache): Sizing {
  const held = MODELS_HELD[spec.name];
  if (held === 0) return { memoryMiB: spec.memoryMiB, cpu: spec.cpu, reasons: ['loads no model'] };

  const modelsMiB = RUNTIME_BASE_MIB + held * MODEL_RSS_FACTOR * modelMiB;
  // A version's cached folder lives while it is held (loading or loaded: holdForInference in
  // libs/inference), and a download is renamed into place, so the cache holds one copy per model held.
  const cachedVersions = held;
  const cacheMiB = cachedVersions * (modelMiB + CACHE_FILES_BESIDE_MODEL_MIB);
  const neededMiB = cache === 'memory' ? modelsMiB + cacheMiB : modelsMiB;
  const reasons = [
    `${held} models held at once × ${MODEL_RSS_FACTOR} + ${RUNTIME_BASE_MIB} MiB runtime`,
    `cache ${cachedVersions} × (${mib(modelMiB)} + ${CACHE_FILES_BESIDE_MODEL_MIB} MiB)${cache === 'memory' ? ' in memory' : ''}`,
  ];
  // The spec's memory stays when it is more: a small model changes nothing.
  if (spec.memoryMiB >= neededMiB) reasons.push(`spec's ${spec.memoryMiB} MiB suffices`);
  const tooBig = (limit: string) =>
    new SizingError(`${spec.name}: a ${mib(modelMiB)} model needs more than ${limit} (${reasons.join('; ')})`);

  if (cache === 'disk') {
    const memoryMiB = Math.max(spec.memoryMiB, roundUp(neededMiB, LAMBDA_MEMORY_MIB.step));
    if (memoryMiB > LAMBDA_MEMORY_MIB.max) throw tooBig(`Lambda's ${LAMBDA_MEMORY_MIB.max} MB of memory`);
    if (cacheMiB <= LAMBDA_EPHEMERAL_MIB.default) return { memoryMiB, cpu: spec.cpu, reasons };
    const ephemeralStorageMiB = roundUp(cacheMiB, LAMBDA_EPHEMERAL_MIB.step);
    if (ephemeralStorageMiB > LAMBDA_EPHEMERAL_MIB.max) throw tooBig(`Lambda's ${LAMBDA_EPHEMERAL_MIB.max} MB of /tmp`);
    return { memoryMiB, cpu: spec.cpu, ephemeralStorageMiB, reasons };
  }

  const memoryMiB = Math.max(spec.memoryMiB, roundUp(neededMiB, GCP_MEMORY_MIB.step));
  if (memoryMiB > GCP_MEMORY_MIB.max) throw tooBig(`the ${GCP_MEMORY_MIB.max / 1024} GiB of memory an instance can have`);
  const required = GCP_MIN_CPU_FOR_MEMORY.find((tier) => memoryMiB > tier.aboveMiB);
  if (!required || required.cpu <= spec.cpu) return { memoryMiB, cpu: spec.cpu, reasons };
  return {
    memoryMiB,
    cpu: required.cpu,
    reasons: [...reasons, `${required.cpu} CPU: more than ${required.aboveMiB / 1024} GiB needs at least that`],
  };
}

export const sizedSpec = (spec: FunctionSpec, modelMiB: number, cache: ModelCache): SizedSpec => ({
  ...spec,
  ...sizeFunction(spec, modelMiB, cache),
});

/** One log line: `predict: memory 2048 MiB, 2 CPU, /tmp 1536 MB (model 266 MiB: …)`, CPU only where it is set. */
export function sizingLine(spec: SizedSpec, modelMiB: number, cache: ModelCache): string {
  const parts = [`memory ${spec.memoryMiB} MiB`];
  if (cache === 'memory') parts.push(`${spec.cpu} CPU`);
  if (spec.ephemeralStorageMiB !== undefined) parts.push(`/tmp ${spec.ephemeralStorageMiB} MB`);
  const why = MODELS_HELD[spec.name] === 0 ? spec.reasons.join('; ') : `model ${mib(modelMiB)}: ${spec.reasons.join('; ')}`;
  return `${spec.name}: ${parts.join(', ')} (${why})`;
}
