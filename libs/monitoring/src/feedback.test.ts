import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textHash } from '@mlops/data';
import { openStore, type ObjectStore } from '@mlops/storage';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  dedupeFeedback,
  FeedbackRecordSchema,
  feedbackId,
  importFeedbackFiles,
  isHoldout,
  joinFeedback,
  PredictionLookup,
  writeFeedback,
  type FeedbackRecord,
} from './feedback.ts';
import { logKey, readLogWindow, toJsonl } from './logs.ts';
import { PredictionRecordSchema, type PredictionRecord } from './prediction-log.ts';

let store: ObjectStore;
beforeEach(async () => {
  store = openStore(await mkdtemp(join(tmpdir(), 'feedback-')));
});

const prediction = (id: string, text: string, version: string, label: string, time = new Date().toISOString()): PredictionRecord => ({
  prediction_id: id,
  request_id: 'r',
  time,
  model_version: version,
  label,
  score: 0.9,
  text_length: text.length,
  tokens: 3,
  unk_ratio: 0,
  text_hash: textHash(text),
});
const label = (
  label: string,
  by: { prediction_id?: string; text?: string },
  time = new Date().toISOString(),
  extra: Partial<FeedbackRecord> = {},
): FeedbackRecord => {
  const hash = by.text !== undefined ? textHash(by.text) : 'unknown';
  return { feedback_id: feedbackId({ ...by, text_hash: hash }), time, label, text_hash: hash, source: 'api', ...by, ...extra };
};

describe('log windows', () => {
  it('reads the records in the window across day partitions, skipping bad lines and older objects', async () => {
    const now = Date.parse('2026-03-02T00:30:00Z');
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
    const record = (t: Date) => prediction(`p-${t.getTime()}`, 'x', 'v1', 'positive', t.toISOString());
    await store.put(logKey('predictions', at(120), 'a', 0), toJsonl([record(at(121))])); // before the window
    await store.put(logKey('predictions', at(40), 'a', 1), toJsonl([record(at(45)), record(at(41))]) + 'not json\n{"a":1}\n'); // yesterday's partition
    await store.put(logKey('predictions', at(5), 'b', 0), toJsonl([record(at(6))]));
    const read = await readLogWindow(store, 'predictions', PredictionRecordSchema, { since: at(60), until: at(0) });
    expect(read.records.map((r) => r.time)).toEqual([at(45), at(41), at(6)].map((t) => t.toISOString()));
    expect(read).toMatchObject({ bad: 2, objects: 2 });
  });
});

describe('feedback', () => {
  it('counts a relabelled prediction once, with its latest label', () => {
    const records = dedupeFeedback([
      label('positive', { prediction_id: 'a' }, '2026-01-01T00:00:00Z'),
      label('negative', { prediction_id: 'a' }, '2026-01-01T00:00:01Z'),
      label('negative', { text: 'x' }),
    ]);
    expect(records).toHaveLength(2);
    expect(records.find((r) => r.prediction_id === 'a')?.label).toBe('negative');
  });

  it('joins labels to predictions by id, by the copy predict keeps, and by text hash for each version', () => {
    const predictions = [
      prediction('a', 'good', 'v1', 'positive'),
      prediction('b', 'bad', 'v1', 'positive'),
      prediction('c', 'bad', 'v2', 'negative'),
    ];
    const rows = joinFeedback(predictions, [
      label('positive', { prediction_id: 'a' }),
      label('negative', { text: 'bad' }),
      label('negative', { prediction_id: 'unsampled' }, undefined, { model_version: 'v2', predicted_label: 'positive' }),
      label('negative', { prediction_id: 'nowhere' }),
    ]);
    expect(rows.map(({ version, label, predicted }) => [version, label, predicted])).toEqual([
      ['v1', 'positive', 'positive'],
      ['v1', 'negative', 'positive'],
      ['v2', 'negative', 'negative'],
      ['v2', 'negative', 'positive'],
    ]);
  });

  it('holds out a stable fifth of texts', () => {
    const hashes = Array.from({ length: 5000 }, (_, i) => textHash(`text ${i}`));
    const share = hashes.filter((h) => isHoldout(h)).length / hashes.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
    expect(hashes.map((h) => isHoldout(h))).toEqual(hashes.map((h) => isHoldout(h)));
  });

  it('writes feedback durably and finds predictions of other instances in the log', async () => {
    await writeFeedback(store, [label('positive', { text: 'fine' })]);
    const read = await readLogWindow(store, 'feedback', FeedbackRecordSchema, { since: new Date(Date.now() - 60_000), until: new Date() });
    expect(read.records.map((r) => r.label)).toEqual(['positive']);

    await store.put(logKey('predictions', new Date(), 'other', 0), toJsonl([prediction('p1', 'fine', 'v3', 'negative')]));
    const lookup = new PredictionLookup(store, 1);
    expect([...(await lookup.find(['p1', 'p2'])).keys()]).toEqual(['p1']);
    await store.put(logKey('predictions', new Date(), 'other', 1), toJsonl([prediction('p2', 'later', 'v3', 'negative')]));
    expect((await lookup.find(['p2'])).get('p2')?.model_version).toBe('v3');
  });

  it('imports dropped labelled files once, reporting bad rows and broken files without stopping', async () => {
    await store.put(
      'feedback/incoming/a.jsonl',
      '{"text":"great","label":"positive"}\n{"text":"","label":"positive"}\n{"text":"meh","label":"neutral"}\n',
    );
    await store.put('feedback/incoming/b.csv', 'text,label\nawful,negative\n');
    await store.put('feedback/incoming/c.jsonl.gz', 'not gzip at all');
    const report = await importFeedbackFiles(store, { prefix: 'feedback/incoming/', labels: ['negative', 'positive'] });
    expect(report).toMatchObject({ files: 2, rows: 2, bad: 2 });
    expect(report.errors.map((e) => e.key)).toEqual(['feedback/incoming/c.jsonl.gz']);
    const again = await importFeedbackFiles(store, { prefix: 'feedback/incoming/', labels: ['negative', 'positive'] });
    expect(again).toMatchObject({ files: 0, rows: 0 });
    const read = await readLogWindow(store, 'feedback', FeedbackRecordSchema, { since: new Date(Date.now() - 60_000), until: new Date() });
    expect(read.records.map((r) => [r.text, r.label, r.source]).sort()).toEqual([
      ['awful', 'negative', 'file'],
      ['great', 'positive', 'file'],
    ]);
  });
});
