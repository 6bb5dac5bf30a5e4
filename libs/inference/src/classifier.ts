import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRegistry } from '@mlops/registry';
import { TextTokenizer } from '@mlops/tokenizer';
import { z } from 'zod';
import { defaultSessionLayout, SessionPool, type SessionPoolOptions } from './session-pool.ts';

export class ModelLoadError extends Error {
  readonly code = 'MODEL_LOAD_ERROR';
}

export interface Prediction {
  label: string;
  score: number;
  probabilities: Record<string, number>;
  /** Input statistics for monitoring: tokens seen by the model (after truncation) and how many were [UNK]. */
  tokens: number;
  unknownTokens: number;
}

/** The parts of an HF config.json that bound a text's length. */
export const positionsConfigSchema = z.object({
  model_type: z.string().optional(),
  max_position_embeddings: z.number().int().positive().optional(),
  pad_token_id: z.number().int().nonnegative().optional(),
});

/**
 * Tokens per text the model's position table holds. RoBERTa counts positions from padding_idx + 1
 * (its first rows are never a real token's), so roberta-base's 514 rows hold 512 tokens.
 */
export function usablePositions(config: z.infer<typeof positionsConfigSchema>): number | undefined {
  const rows = config.max_position_embeddings;
  if (rows === undefined) return undefined;
  // pad_token_id 1 is RobertaConfig's own default, for a config that leaves it out.
  return config.model_type === 'roberta' ? rows - ((config.pad_token_id ?? 1) + 1) : rows;
}

/** The parts of an HF config.json serving needs; everything else is ignored. */
const modelConfigSchema = positionsConfigSchema.extend({ id2label: z.record(z.string(), z.string()) });

/** Tokenized rows padded to the longest of them: the model's inputs, row-major [batch, seq]. */
export interface PaddedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  seq: number;
}

/**
 * A batch costs its longest row times its size (attention: the square of it). Texts are sorted by
 * length and cut into runs whose padding stays under this share of their real tokens.
 */
const MAX_PADDING_SHARE = 0.2;
/**
 * Padded tokens in one pass (8 texts of 256). Small passes keep the attention matrices in cache;
 * the measurement behind the cap is in docs/benchmarks.md (Serving). Short texts still go 64 or
 * more to a pass.
 */
const MAX_PASS_TOKENS = 2_048;
/**
 * Passes are padded to a multiple of this many tokens: onnxruntime's kernels run aligned lengths
 * faster, enough to pay for the padding (measured: docs/benchmarks.md, Serving).
 */
const SEQ_ALIGN = 16;

/** Indices grouped into runs of similar length, each padded to at most (1 + maxPadding) of its real tokens. */
export function lengthGroups(lengths: readonly number[], maxPadding = MAX_PADDING_SHARE, maxPassTokens = MAX_PASS_TOKENS): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const groups: number[][] = [];
  let group: number[] = [];
  let tokens = 0;
  for (const i of order) {
    const length = lengths[i]!;
    // Sorted ascending, so this row would become the group's longest.
    const padded = length * (group.length + 1);
    if (group.length > 0 && (padded > (1 + maxPadding) * (tokens + length) || padded > maxPassTokens)) {
      groups.push(group);
      group = [];
      tokens = 0;
    }
    group.push(i);
    tokens += length;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Which files of a model folder inference reads: all but the training frameworks' weights, which
 * are as large as the ONNX model (a cold start then downloads half the bytes).
 */
export const neededForInference = (path: string): boolean =>
  !/(^|\/)(pytorch_model\.bin|[^/]*\.safetensors|tf_model\.h5|flax_model\.msgpack)$/.test(path);

/** Downloads what inference reads of a registry version (see `neededForInference`); returns its folder. */
export function downloadForInference(registry: Pick<ModelRegistry, 'downloadVersion'>, version: string, cacheDir: string): Promise<string> {
  return registry.downloadVersion(version, cacheDir, neededForInference);
}

// Optimum exports put model.onnx at the root, transformers.js (and the registry) under onnx/.
const ONNX_CANDIDATES = ['onnx/model.onnx', 'model.onnx'];

/** The ONNX model of a Hugging Face style folder, where the classifier loads it from; ModelLoadError when there is none. */
export function findOnnxModel(dir: string): Promise<string> {
  return firstExisting(dir, ONNX_CANDIDATES);
}

/** A text classifier over a Hugging Face style folder: tokenizer.json + config.json + ONNX model. */
export class TextClassifier {
  private constructor(
    private readonly sessions: SessionPool,
    readonly tokenizer: TextTokenizer,
    readonly labels: string[],
  ) {}

  get maxLength(): number {
    return this.tokenizer.maxLength;
  }

  /** The sessions it runs on: as asked, the rest from `defaultSessionLayout` for the model's size. */
  get layout(): SessionPoolOptions {
    return this.sessions.layout;
  }

  /**
   * Sessions run in worker threads, so passes leave the event loop free to read and tokenize the
   * next requests. How many and with how many threads, unless `opts` says, follows the model's size
   * (`defaultSessionLayout`): one single-threaded session per core for a small model, one session
   * using every core for a large one (measured: docs/benchmarks.md, Serving and Real size).
   */
  static async load(dir: string, opts: Partial<SessionPoolOptions> = {}): Promise<TextClassifier> {
    const config = await readModelConfig(dir);
    const labels = Object.entries(config.id2label)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([, label]) => label);
    const modelPath = await findOnnxModel(dir);
    const layout = defaultSessionLayout((await stat(modelPath)).size);
    // The sessions start in their worker threads while the tokenizer loads here (cold start).
    const [tokenizer, sessions] = await Promise.allSettled([
      TextTokenizer.load(dir),
      SessionPool.open(modelPath, { sessions: opts.sessions ?? layout.sessions, threads: opts.threads ?? layout.threads }),
    ]);
    if (tokenizer.status === 'rejected') {
      if (sessions.status === 'fulfilled') await sessions.value.release();
      throw tokenizer.reason;
    }
    if (sessions.status === 'rejected') throw new ModelLoadError((sessions.reason as Error).message);
    // The tokenizer's limit may exceed what the model's position table holds.
    const positions = usablePositions(config);
    if (positions !== undefined && tokenizer.value.maxLength > positions) tokenizer.value.setMaxLength(positions);
    return new TextClassifier(sessions.value, tokenizer.value, labels);
  }

  /** Pads token id rows to the longest of them, rounded up to a multiple of SEQ_ALIGN within the model's limit. */
  pad(rows: readonly number[][]): PaddedBatch {
    const batch = rows.length;
    const longest = Math.max(...rows.map((row) => row.length));
    const seq = Math.max(longest, Math.min(Math.ceil(longest / SEQ_ALIGN) * SEQ_ALIGN, this.maxLength));
    const inputIds = new BigInt64Array(batch * seq).fill(BigInt(this.tokenizer.padId));
    const attentionMask = new BigInt64Array(batch * seq);
    rows.forEach((row, r) => {
      row.forEach((id, c) => {
        inputIds[r * seq + c] = BigInt(id);
        attentionMask[r * seq + c] = 1n;
      });
    });
    return { inputIds, attentionMask, batch, seq };
  }

  /** Raw logits for already tokenized, padded rows (row-major [batch, seq]). */
  async logits(inputIds: BigInt64Array, attentionMask: BigInt64Array, batch: number, seq: number): Promise<Float32Array> {
    const feeds: Record<string, BigInt64Array> = { input_ids: inputIds, attention_mask: attentionMask };
    // BERT-family exports also take segment ids; single-text classification uses segment 0.
    if (this.sessions.inputNames.includes('token_type_ids')) feeds.token_type_ids = new BigInt64Array(batch * seq);
    const output = await this.sessions.run({ feeds, batch, seq });
    // [batch, labels]: a token classifier's [batch, seq, labels] or a headless encoder is not a text classifier.
    if (output.dims.length !== 2 || output.dims[0] !== batch) {
      throw new ModelLoadError(`model gives logits of shape [${output.dims.join(', ')}] for ${batch} texts, not [texts, labels]`);
    }
    if (output.dims[1] !== this.labels.length) {
      throw new ModelLoadError(`model gives ${output.dims[1]} logits per text but config.json names ${this.labels.length} labels`);
    }
    return output.data;
  }

  /**
   * Tokenizes and classifies. Rows run in forward passes of similar lengths, each padded to its own
   * longest row (aligned, see `pad`), so one long text does not make a whole batch pay for it.
   * Passes go to the session pool together, so several sessions share them.
   */
  async predict(texts: readonly string[]): Promise<Prediction[]> {
    const { ids } = await this.tokenizer.encode(texts);
    const k = this.labels.length;
    const unk = this.tokenizer.unkId;
    const predictions: Prediction[] = new Array(texts.length);
    const passes = lengthGroups(ids.map((row) => row.length)).map(async (group) => {
      const rows = group.map((i) => ids[i]!);
      const { inputIds, attentionMask, batch, seq } = this.pad(rows);
      const logits = await this.logits(inputIds, attentionMask, batch, seq);
      group.forEach((i, r) => {
        predictions[i] = {
          ...this.toPrediction(logits.subarray(r * k, (r + 1) * k)),
          tokens: rows[r]!.length,
          unknownTokens: rows[r]!.reduce((n, id) => n + (id === unk ? 1 : 0), 0),
        };
      });
    });
    // Every pass settles before a failure is thrown: a caller that then releases the model must not
    // terminate a worker inside onnxruntime's run (that aborts the process).
    const failed = (await Promise.allSettled(passes)).find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    return predictions;
  }

  /** Set when the sessions stopped serving on their own (a worker died): the model must be reloaded. */
  get failure(): Error | undefined {
    return this.sessions.failure;
  }

  async release(): Promise<void> {
    await this.sessions.release();
  }

  private toPrediction(logits: Float32Array): Pick<Prediction, 'label' | 'score' | 'probabilities'> {
    const max = Math.max(...logits);
    const exps = Array.from(logits, (x) => Math.exp(x - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    let best = 0;
    const probabilities: Record<string, number> = {};
    exps.forEach((e, i) => {
      probabilities[this.labels[i]!] = e / sum;
      if (e > exps[best]!) best = i;
    });
    return { label: this.labels[best]!, score: exps[best]! / sum, probabilities };
  }
}

async function readModelConfig(dir: string): Promise<z.infer<typeof modelConfigSchema>> {
  const path = join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const parsed = modelConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ModelLoadError(`${path} is not a classifier config: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

async function firstExisting(dir: string, candidates: string[]): Promise<string> {
  for (const candidate of candidates) {
    const path = join(dir, candidate);
    try {
      await access(path);
      return path;
    } catch {
      // try the next layout
    }
  }
  throw new ModelLoadError(`no ONNX model in ${dir} (looked for ${candidates.join(', ')})`);
}
