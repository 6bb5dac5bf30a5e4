/** Test helpers: logs written as predict and its feedback route would write them. */
import type { ObjectStore } from '@mlops/storage';
import { feedbackId, type FeedbackRecord } from './feedback.ts';
import { logKey, toJsonl } from './logs.ts';
import type { PredictionRecord } from './prediction-log.ts';

/**
 * n labelled predictions of `version` since now, `correct` of them right: each says `classes[0]`,
 * and the wrong ones should have been `classes[1]`.
 */
export async function writeLabelledPredictions(
  store: ObjectStore,
  version: string,
  n: number,
  correct: number,
  classes: readonly [string, string] = ['positive', 'negative'],
): Promise<void> {
  const time = new Date().toISOString();
  const predictions: PredictionRecord[] = [];
  const feedback: FeedbackRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${version}-${i}-${Math.random()}`;
    predictions.push({
      prediction_id: id,
      request_id: 'r',
      time,
      model_version: version,
      label: classes[0],
      score: 0.9,
      text_length: 10,
      tokens: 3,
      unk_ratio: 0,
      text_hash: `h${i}`,
    });
    feedback.push({
      feedback_id: feedbackId({ prediction_id: id, text_hash: `h${i}` }),
      time,
      label: i < correct ? classes[0] : classes[1],
      prediction_id: id,
      text_hash: `h${i}`,
      source: 'api',
    });
  }
  await store.put(logKey('predictions', new Date(), version, 0), toJsonl(predictions));
  await store.put(logKey('feedback', new Date(), version, 0), toJsonl(feedback));
}
