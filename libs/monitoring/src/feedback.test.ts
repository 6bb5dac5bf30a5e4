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
  fromTrustedCallers,
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
    const lookup = new PredictionLookup(store, 1, { minRelistMs: 0 });
    expect([...(await lookup.find(['p1', 'p2'])).keys()]).toEqual(['p1']);
    await store.put(logKey('predictions', new Date(), 'other', 1), toJsonl([prediction('p2', 'later', 'v3', 'negative')]));
    expect((await lookup.find(['p2'])).get('p2')?.model_version).toBe('v3');
  });

  /** The store, counting the calls that list and read it. */
  const counted = (inner: ObjectStore) => {
    const calls = { list: 0, get: 0 };
    const store = new Proxy(inner, {
      get(target, name) {
        const value: unknown = Reflect.get(target, name, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (name === 'list') calls.list++;
          if (name === 'get') calls.get++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { store, calls };
  };

  it('looks unknown ids up without listing the log each time or reading an object twice', async () => {
    const start = Date.now();
    let now = start;
    for (let i = 0; i < 3; i++)
      await store.put(
        logKey('predictions', new Date(start - (3 - i) * 60_000), 'other', i),
        toJsonl([prediction(`p${i}`, 'x', 'v1', 'positive')]),
      );
    const { store: watched, calls } = counted(store);
    const lookup = new PredictionLookup(watched, 1, { now: () => now });
    expect([...(await lookup.find(['p0', 'p2'])).keys()]).toEqual(['p0', 'p2']);
    const first = { ...calls };
    expect(first.get).toBe(3);
    expect(first.list).toBeLessThanOrEqual(2); // yesterday's and today's partitions

    for (let i = 0; i < 100; i++) expect((await lookup.find([`unknown-${i}`])).size).toBe(0);
    expect(calls).toEqual(first); // within minRelistMs: answered from what was read

    await store.put(logKey('predictions', new Date(start), 'other', 3), toJsonl([prediction('p3', 'x', 'v1', 'positive')]));
    now += 1_500;
    const found = await Promise.all(Array.from({ length: 50 }, (_, i) => lookup.find([`unknown-${i}`, 'p3'])));
    expect(found.every((f) => f.get('p3')?.model_version === 'v1')).toBe(true);
    expect(calls.get).toBe(first.get + 1); // only the new object
    expect(calls.list).toBeLessThanOrEqual(first.list + 2); // one listing for all fifty
  });

  it('lists a day partition that ended before the watermark no more', async () => {
    let now = Date.parse('2026-03-02T12:00:00Z');
    await store.put(logKey('predictions', new Date('2026-03-01T20:00:00Z'), 'other', 0), toJsonl([prediction('y', 'x', 'v1', 'positive')]));
    await store.put(logKey('predictions', new Date('2026-03-02T11:00:00Z'), 'other', 0), toJsonl([prediction('t', 'x', 'v1', 'positive')]));
    const { store: watched, calls } = counted(store);
    const lookup = new PredictionLookup(watched, 1, { now: () => now });
    expect((await lookup.find(['y', 't'])).size).toBe(2);
    expect(calls).toEqual({ list: 2, get: 2 });
    now += 2_000;
    expect((await lookup.find(['unknown'])).size).toBe(0);
    expect(calls).toEqual({ list: 3, get: 2 }); // today's partition only
  });

  it('keeps at most its byte budget of predictions, the newest, and reads only what fits', async () => {
    const start = Date.now() - 60 * 60_000;
    const text = 'x'.repeat(20_000); // logged texts (PREDICT_LOG_TEXT=true)
    const record = (id: string) => ({ ...prediction(id, text, 'v1', 'positive'), text });
    for (let o = 0; o < 40; o++)
      await store.put(
        logKey('predictions', new Date(start + o * 1_000), 'other', o),
        toJsonl(Array.from({ length: 5 }, (_, r) => record(`o${o}-r${r}`))),
      );
    const { store: watched, calls } = counted(store);
    const maxBytes = 1024 * 1024;
    const lookup = new PredictionLookup(watched, 1, { maxBytes });
    expect((await lookup.find(['o39-r4'])).get('o39-r4')?.text).toBe(text);
    expect((await lookup.find(['o0-r0'])).size).toBe(0);
    expect(lookup.bytes).toBeLessThanOrEqual(maxBytes);
    expect(lookup.size * JSON.stringify(record('o0-r0')).length).toBeLessThanOrEqual(maxBytes);
    expect(lookup.size).toBeGreaterThan(0);
    expect(calls.get).toBeLessThan(40); // older objects than fit are never read
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

describe('fromTrustedCallers', () => {
  const record = (caller?: string): FeedbackRecord => ({
    feedback_id: `t:${caller}`,
    time: '2026-12-01T00:00:00.000Z',
    label: 'positive',
    text_hash: 'h',
    source: 'api',
    ...(caller !== undefined && { caller }),
  });
  const callers = (records: FeedbackRecord[]) => records.map((r) => r.caller);

  it('keeps every record without a list, and only listed callers (exact, or by a prefix ending in *) with one', () => {
    const all = [record('api-key'), record('oidc:a@x.com'), record('oidc:b@x.com'), record('file:feedback/incoming/x.csv'), record()];
    expect(fromTrustedCallers(all, [])).toHaveLength(5);
    expect(callers(fromTrustedCallers(all, ['oidc:a@x.com', 'file:*']))).toEqual(['oidc:a@x.com', 'file:feedback/incoming/x.csv']);
    expect(callers(fromTrustedCallers(all, ['api-key']))).toEqual(['api-key']); // a record without a caller is not trusted by a list
  });
});
