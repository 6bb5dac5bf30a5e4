import { BoundedMap } from '@mlops/monitoring';

/** What feedback needs to know about a prediction it labels. */
export interface KnownPrediction {
  text_hash: string;
  /**
   * The raw text, copied into the feedback record: retraining and the promote holdout use only
   * feedback with text (`feedbackTexts`), and with PREDICT_LOG_TEXT off the prediction log has none.
   */
  text?: string | undefined;
  model_version: string;
  label: string;
}

export interface RecentPredictionsOptions {
  /** Budget of the remembered strings (estimated, see `estimatedBytes`); oldest dropped first. */
  maxBytes: number;
  /** Most predictions remembered, whatever their size. */
  maxEntries?: number;
}

/** A Map entry and its object, beside the strings (a rough, generous figure for V8). */
const ENTRY_OVERHEAD_BYTES = 160;

/** Memory an entry holds: its strings at two bytes a UTF-16 unit (V8 stores Latin-1 in one), plus a fixed overhead. */
export function estimatedBytes(id: string, p: KnownPrediction): number {
  const chars = id.length + p.text_hash.length + (p.text?.length ?? 0) + p.model_version.length + p.label.length;
  return ENTRY_OVERHEAD_BYTES + 2 * chars;
}

/**
 * This instance's latest predictions by id, bounded by an estimate of the bytes they hold (and a
 * count), oldest dropped first, so feedback for a fresh prediction is joined without reading the store.
 */
export class RecentPredictions extends BoundedMap<string, KnownPrediction> {
  constructor(opts: RecentPredictionsOptions) {
    super({ ...opts, bytesOf: estimatedBytes });
  }

  remember(id: string, prediction: KnownPrediction): void {
    this.set(id, prediction);
  }
}
