/**
 * The serving targets, each a ratio between measurements. A target whose measurements were not
 * selected is left out; one whose numbers are missing (a failed peer) shows n/a.
 */
import { markdownTable } from '../markdown.ts';
import { ratio } from './format.ts';
import type { Results } from './measurement.ts';
import { batchScoreMeasurement } from './measurements/batch-score.ts';
import { coldStartMeasurement } from './measurements/cold-start.ts';
import { httpLoadMeasurement } from './measurements/http-load.ts';
import { predictInProcessMeasurement } from './measurements/predict-in-process.ts';
import { rawPassesMeasurement } from './measurements/raw-passes.ts';
import { transformersJsMeasurement } from './measurements/transformers-js.ts';

const CONTEXT = '(context)';

interface Check {
  name: string;
  shown: string;
  /** CONTEXT for a ratio shown for reading the others, with no target. */
  target: string;
  met: boolean | undefined;
}

export function targetChecks(results: Results): Check[] {
  const raw = results.get(rawPassesMeasurement);
  const predict = results.get(predictInProcessMeasurement);
  const peer = results.get(transformersJsMeasurement);
  const http = results.get(httpLoadMeasurement);
  const coldStarts = results.get(coldStartMeasurement);
  const batch = results.get(batchScoreMeasurement);

  const checks: Check[] = [];
  const add = (name: string, value: number | undefined, shown: string, target: string, ok: (v: number) => boolean) =>
    checks.push({ name, shown, target, met: value === undefined || !Number.isFinite(value) ? undefined : ok(value) });
  const context = (name: string, shown: string) => checks.push({ name, shown, target: CONTEXT, met: undefined });
  const c1 = http?.reviews.get(1);
  const c64 = http?.reviews.get(64);
  const shortC1 = http?.sentences.get(1);
  const shortC64 = http?.sentences.get(64);

  if (http && raw) {
    const overhead = c1 && c1.p50 / raw.reviews.get(1)!.p50;
    add('HTTP c=1 p50 latency / raw batch-1 p50 latency', overhead, ratio(overhead), '≤ 1.20x', (v) => v <= 1.2);
  }
  if (http && predict) {
    const overTokenized = c1 && c1.p50 / predict.speeds.get(1)!.p50;
    context('HTTP c=1 p50 latency / predict() batch-1 p50 (tokenization included in both)', ratio(overTokenized));
  }
  if (http) {
    const scaling = c1 && c64 && c64.textsPerSecond / c1.textsPerSecond;
    add('HTTP throughput c=64 / c=1', scaling, ratio(scaling), '≥ 3x', (v) => v >= 3);
  }
  if (raw) {
    // What batching can give at most: the raw passes' own gain from batch 1 to their best batch.
    context(
      'raw best batch / raw batch 1 (the most any batcher can gain on these texts)',
      ratio(raw.limit / raw.reviews.get(1)!.textsPerSecond),
    );
  }
  if (http && raw) {
    const shortOverhead = shortC1 && shortC1.p50 / raw.sentences.get(1)!.p50;
    add('SST-2: HTTP c=1 p50 latency / raw batch-1 p50 latency', shortOverhead, ratio(shortOverhead), '≤ 1.20x', (v) => v <= 1.2);
  }
  if (http) {
    const shortScaling = shortC1 && shortC64 && shortC64.textsPerSecond / shortC1.textsPerSecond;
    add('SST-2: HTTP throughput c=64 / c=1', shortScaling, ratio(shortScaling), '≥ 3x', (v) => v >= 3);
  }
  if (predict && peer) {
    for (const size of predict.batches) {
      const theirs = peer.speeds.get(size);
      const r = theirs && predict.speeds.get(size)!.textsPerSecond / theirs.textsPerSecond;
      add(`predict() in process / transformers.js, batch ${size}`, r, ratio(r), '≥ 1.5x', (v) => v >= 1.5);
    }
  }
  if (http && peer) {
    const peerBest = peer.speeds.size > 0 ? Math.max(...[...peer.speeds.values()].map((s) => s.textsPerSecond)) : undefined;
    const httpVsPeer = c64 && peerBest && c64.textsPerSecond / peerBest;
    add('HTTP c=64 / transformers.js (its best batch)', httpVsPeer, ratio(httpVsPeer), '≥ 1.5x', (v) => v >= 1.5);
  }
  if (batch && raw) {
    const share = batch.rowsPerSecond / raw.limit;
    add(
      'batch-score / raw batched limit (best raw row: pre-tokenized, no I/O)',
      share,
      `${(share * 100).toFixed(0)}%`,
      '≥ 80%',
      (v) => v >= 0.8,
    );
  }
  if (batch && raw && predict) {
    const shareOfPredict = batch.rowsPerSecond / predict.speeds.get(raw.bestBatch)!.textsPerSecond;
    context(`batch-score / TextClassifier.predict, batch ${raw.bestBatch} (tokenization in both)`, `${(shareOfPredict * 100).toFixed(0)}%`);
  }
  for (const c of coldStarts ?? []) {
    add(
      `cold start, ${c.host}, empty cache`,
      c.empty,
      c.empty === undefined ? 'failed' : `${c.empty.toFixed(0)} ms`,
      '< 1000 ms',
      (v) => v < 1000,
    );
  }
  return checks;
}

const metCell = (check: Check): string => (check.target === CONTEXT ? '' : check.met === undefined ? 'n/a' : check.met ? 'yes' : 'no');

export function targetTable(checks: readonly Check[]): string {
  return markdownTable(
    [{ title: 'ratio' }, { title: 'measured', align: 'right' }, { title: 'target', align: 'right' }, { title: 'met' }],
    checks.map((check) => [check.name, check.shown, check.target, metCell(check)]),
  );
}
