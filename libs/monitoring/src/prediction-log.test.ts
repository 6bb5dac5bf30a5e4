import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textHash } from '@mlops/data';
import { openStore, type ObjectStore } from '@mlops/storage';
import { describe, expect, it } from 'vitest';
import { PredictionLog, predictionLogKey } from './prediction-log.ts';

const entry = (texts: string[]) => ({
  ids: texts.map((t) => `id-${t}`),
  requestId: 'r1',
  version: 'v1',
  texts,
  predictions: texts.map(() => ({ label: 'positive', score: 0.9, tokens: 10, unknownTokens: 1 })),
});

async function readAll(store: ObjectStore): Promise<Record<string, unknown>[]> {
  const rows = [];
  for (const { key } of await store.list('logs/predictions/')) {
    rows.push(
      ...(await store.get(key)).body
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
  }
  return rows;
}

describe('PredictionLog', () => {
  it('writes date-partitioned JSONL with input stats and a text hash, not the text', async () => {
    const store = openStore(await mkdtemp(join(tmpdir(), 'plog-')));
    const log = new PredictionLog(store, { sampleRate: 1, includeText: false, maxBuffered: 100, flushMs: 60_000 });
    log.record(entry(['great film', 'bad film']));
    await log.close();
    const keys = (await store.list('logs/')).map((o) => o.key);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^logs\/predictions\/date=\d{4}-\d{2}-\d{2}\/\d+-[0-9a-f]{8}-000000\.jsonl$/);
    const rows = await readAll(store);
    expect(rows.map((r) => r.prediction_id)).toEqual(['id-great film', 'id-bad film']);
    expect(rows[0]).toMatchObject({
      request_id: 'r1',
      model_version: 'v1',
      label: 'positive',
      text_length: 10,
      tokens: 10,
      unk_ratio: 0.1,
      text_hash: textHash('great film'),
    });
    expect(rows[0]).not.toHaveProperty('text');
  });

  it('samples at the configured rate and keeps the text only when asked', async () => {
    const store = openStore(await mkdtemp(join(tmpdir(), 'plog-')));
    let i = 0;
    const log = new PredictionLog(store, {
      sampleRate: 0.5,
      includeText: true,
      maxBuffered: 100,
      flushMs: 60_000,
      random: () => (i++ % 4) / 4,
    });
    log.record(entry(['a', 'b', 'c', 'd']));
    await log.close();
    const rows = await readAll(store);
    expect(rows.map((r) => r.text)).toEqual(['a', 'b']);
  });

  it('flushes when the buffer fills, and keeps records across a failing store', async () => {
    const real = openStore(await mkdtemp(join(tmpdir(), 'plog-')));
    let down = true;
    const errors: unknown[] = [];
    const flaky: ObjectStore = { ...real, put: (key, body) => (down ? Promise.reject(new Error('store is down')) : real.put(key, body)) };
    const log = new PredictionLog(flaky, {
      sampleRate: 1,
      includeText: false,
      maxBuffered: 2,
      flushMs: 60_000,
      onError: (e) => errors.push(e),
    });
    log.record(entry(['a', 'b']));
    await log.flush();
    expect(errors.length).toBeGreaterThan(0);
    down = false;
    log.record(entry(['c']));
    await log.close();
    expect((await readAll(real)).map((r) => r.text_hash)).toEqual(['a', 'b', 'c'].map(textHash));
  });

  it('names objects so that they sort by time', () => {
    const a = predictionLogKey(new Date('2026-01-02T03:04:05Z'), 'abcd1234', 1);
    expect(a).toBe(`logs/predictions/date=2026-01-02/${Date.parse('2026-01-02T03:04:05Z')}-abcd1234-000001.jsonl`);
  });
});
