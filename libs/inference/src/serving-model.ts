import { TextClassifier, type Prediction } from './classifier.ts';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.ts';
import type { SessionPoolOptions } from './session-pool.ts';

/**
 * The sessions (either number missing: from the model's size, see TextClassifier.load) and the
 * micro-batcher's batching and queue bounds; how many batches are in flight follows the sessions.
 */
export type ServingOptions = Partial<SessionPoolOptions> & Omit<MicroBatcherOptions, 'maxInFlight'>;

export interface ModelMetadata {
  version: string;
  created?: string;
  metrics?: Record<string, unknown>;
}

/**
 * A loaded model version ready for traffic: onnxruntime sessions behind a micro-batcher, so
 * concurrent requests share forward passes. One batch more than there are sessions is in flight,
 * so the next one is tokenized while passes run. Knows nothing about HTTP.
 */
export class ServingModel {
  private inFlight = 0;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly classifier: TextClassifier,
    private readonly batcher: MicroBatcher<string, Prediction>,
    readonly metadata: ModelMetadata,
  ) {}

  static async load(dir: string, metadata: ModelMetadata, opts: ServingOptions): Promise<ServingModel> {
    const classifier = await TextClassifier.load(dir, {
      ...(opts.sessions !== undefined && { sessions: opts.sessions }),
      ...(opts.threads !== undefined && { threads: opts.threads }),
    });
    const batcher = new MicroBatcher((texts: string[]) => classifier.predict(texts), {
      ...opts,
      maxInFlight: classifier.layout.sessions + 1,
    });
    const model = new ServingModel(classifier, batcher, metadata);
    // One forward pass before taking traffic: the first run of a session allocates its buffers.
    await model.predict(['warm up']);
    return model;
  }

  get labels(): string[] {
    return this.classifier.labels;
  }

  get maxLength(): number {
    return this.classifier.maxLength;
  }

  get layout(): SessionPoolOptions {
    return this.classifier.layout;
  }

  /** Set when the model stopped serving on its own (an inference worker died); see ModelWatcher. */
  get failure(): Error | undefined {
    return this.classifier.failure;
  }

  async predict(texts: string[]): Promise<Prediction[]> {
    this.inFlight++;
    try {
      return await this.batcher.submit(texts);
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /** Releases the session once the requests already running on it have finished. */
  async retire(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.classifier.release();
  }
}
