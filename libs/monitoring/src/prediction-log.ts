import { textHash } from '@mlops/data';
import { randomHex, type ObjectStore } from '@mlops/storage';
import { z } from 'zod';
import { logKey, toJsonl } from './logs.ts';

export const PredictionRecordSchema = z.object({
  prediction_id: z.string(),
  request_id: z.string(),
  time: z.string(),
  model_version: z.string(),
  label: z.string(),
  score: z.number(),
  text_length: z.number(),
  tokens: z.number(),
  unk_ratio: z.number(),
  text_hash: z.string(),
  text: z.string().optional(),
});
export type PredictionRecord = z.infer<typeof PredictionRecordSchema>;

export interface PredictionLogOptions {
  /** Share of predictions kept, 0..1. */
  sampleRate: number;
  /** Keep the raw text too (off by default: hashes join feedback without storing user text). */
  includeText: boolean;
  /** Flush when this many records are buffered, or every flushMs, whichever comes first. */
  maxBuffered: number;
  flushMs: number;
  /** Tells the writers of several instances apart in object names. */
  instance?: string;
  onError?: (error: unknown) => void;
  random?: () => number;
}

/** Date-partitioned JSONL, the same objects a local engine or BigQuery/Athena read. */
export function predictionLogKey(time: Date, instance: string, seq: number): string {
  return logKey('predictions', time, instance, seq);
}

/**
 * The prediction log: sampled, buffered in memory and flushed in the background, so logging never
 * slows or fails a request. A failed flush keeps its records for the next one (bounded) and reports.
 */
export class PredictionLog {
  private buffer: PredictionRecord[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly instance: string;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: PredictionLogOptions,
  ) {
    this.instance = opts.instance ?? randomHex(4);
    this.timer = setInterval(() => void this.flush(), opts.flushMs);
    this.timer.unref();
  }

  record(entry: {
    ids: readonly string[];
    requestId: string;
    version: string;
    texts: readonly string[];
    predictions: readonly { label: string; score: number; tokens: number; unknownTokens: number }[];
  }): void {
    const time = new Date().toISOString();
    const random = this.opts.random ?? Math.random;
    entry.predictions.forEach((p, i) => {
      if (random() < this.opts.sampleRate) {
        const text = entry.texts[i]!;
        this.buffer.push({
          prediction_id: entry.ids[i]!,
          request_id: entry.requestId,
          time,
          model_version: entry.version,
          label: p.label,
          score: p.score,
          text_length: text.length,
          tokens: p.tokens,
          unk_ratio: p.tokens > 0 ? p.unknownTokens / p.tokens : 0,
          text_hash: textHash(text),
          ...(this.opts.includeText ? { text } : {}),
        });
      }
    });
    if (this.buffer.length >= this.opts.maxBuffered) void this.flush();
  }

  /** Writes what is buffered as one object; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.buffer.length === 0) return;
      const records = this.buffer;
      this.buffer = [];
      try {
        await this.store.put(predictionLogKey(new Date(), this.instance, this.seq++), toJsonl(records));
      } catch (error) {
        // Keep them for the next try, but never let a dead store grow memory without bound.
        this.buffer = [...records, ...this.buffer].slice(-this.opts.maxBuffered * 10);
        this.opts.onError?.(error);
      }
    });
    return this.flushing;
  }

  /** Final flush, e.g. on SIGTERM. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
