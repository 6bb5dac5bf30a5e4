import { access, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TextTokenizer } from '@mlops/tokenizer';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';

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

/** The parts of an HF config.json serving needs; everything else is ignored. */
const modelConfigSchema = z.object({
  id2label: z.record(z.string(), z.string()),
  max_position_embeddings: z.number().int().positive().optional(),
});

// Optimum exports put model.onnx at the root, transformers.js under onnx/.
const ONNX_CANDIDATES = ['onnx/model.onnx', 'model.onnx'];

/** A text classifier over a Hugging Face style folder: tokenizer.json + config.json + ONNX model. */
export class TextClassifier {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly tokenizer: TextTokenizer,
    readonly labels: string[],
  ) {}

  get maxLength(): number {
    return this.tokenizer.maxLength;
  }

  static async load(dir: string, opts: { threads?: number } = {}): Promise<TextClassifier> {
    const config = await readModelConfig(dir);
    const labels = Object.entries(config.id2label)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([, label]) => label);
    const tokenizer = await TextTokenizer.load(dir);
    // The tokenizer's limit may exceed what the model's position table holds.
    if (config.max_position_embeddings !== undefined && tokenizer.maxLength > config.max_position_embeddings) {
      tokenizer.setMaxLength(config.max_position_embeddings);
    }
    const modelPath = await firstExisting(dir, ONNX_CANDIDATES);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: opts.threads ?? availableParallelism(),
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      throw new ModelLoadError(`cannot load ONNX model ${modelPath}: ${(error as Error).message}`);
    }
    return new TextClassifier(session, tokenizer, labels);
  }

  /** Raw logits for already tokenized, padded rows (row-major [batch, seq]). */
  async logits(inputIds: BigInt64Array, attentionMask: BigInt64Array, batch: number, seq: number): Promise<Float32Array> {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, [batch, seq]),
      attention_mask: new ort.Tensor('int64', attentionMask, [batch, seq]),
    };
    // BERT-family exports also take segment ids; single-text classification uses segment 0.
    if (this.session.inputNames.includes('token_type_ids')) {
      feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(batch * seq), [batch, seq]);
    }
    const output = (await this.session.run(feeds)).logits;
    if (!output) throw new ModelLoadError(`model has no "logits" output (outputs: ${this.session.outputNames.join(', ')})`);
    if (output.dims[1] !== this.labels.length) {
      throw new ModelLoadError(`model gives ${output.dims[1]} logits per text but config.json names ${this.labels.length} labels`);
    }
    return output.data as Float32Array;
  }

  /** Tokenizes, pads to the longest text of the batch (not to maxLength) and classifies. */
  async predict(texts: readonly string[]): Promise<Prediction[]> {
    if (texts.length === 0) return [];
    const { ids } = await this.tokenizer.encode(texts);
    const seq = Math.max(...ids.map((row) => row.length));
    const inputIds = new BigInt64Array(texts.length * seq).fill(BigInt(this.tokenizer.padId));
    const mask = new BigInt64Array(texts.length * seq);
    ids.forEach((row, r) => {
      row.forEach((id, c) => {
        inputIds[r * seq + c] = BigInt(id);
        mask[r * seq + c] = 1n;
      });
    });
    const logits = await this.logits(inputIds, mask, texts.length, seq);
    const k = this.labels.length;
    const unk = this.tokenizer.unkId;
    return ids.map((row, r) => ({
      ...this.toPrediction(logits.subarray(r * k, (r + 1) * k)),
      tokens: row.length,
      unknownTokens: row.reduce((n, id) => n + (id === unk ? 1 : 0), 0),
    }));
  }

  async release(): Promise<void> {
    await this.session.release();
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
