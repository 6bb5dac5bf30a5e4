import { describe, expect, it } from 'vitest';
import { RecentPredictions, type KnownPrediction } from './recent-predictions.ts';

const known = (text: string | undefined): KnownPrediction => ({
  text_hash: 'h'.repeat(64),
  ...(text !== undefined && { text }),
  model_version: 'v1',
  label: 'positive',
});

describe('RecentPredictions', () => {
  it('stays under its byte budget with many 20 KB texts, dropping the oldest first', () => {
    const maxBytes = 1024 * 1024;
    const recent = new RecentPredictions({ maxBytes });
    const ids = Array.from({ length: 1_000 }, (_, i) => `id-${i}`);
    ids.forEach((id, i) => recent.remember(id, known(`${i} `.padEnd(20_000, 'x'))));
    const kept = ids.map((id) => recent.get(id) !== undefined);
    const count = kept.filter(Boolean).length;
    expect(count * 20_000).toBeLessThanOrEqual(maxBytes); // the texts alone, whatever the estimate
    expect(count).toBeGreaterThan(10);
    expect(recent.bytes).toBeLessThanOrEqual(maxBytes);
    expect(recent.size).toBe(count);
    // The latest are kept, and only they.
    expect(kept).toEqual(ids.map((_, i) => i >= ids.length - count));
    expect(recent.get('id-999')?.text?.startsWith('999 ')).toBe(true);
  });

  it('holds many more predictions without text, and at most maxEntries', () => {
    const recent = new RecentPredictions({ maxBytes: 1024 * 1024, maxEntries: 1_500 });
    for (let i = 0; i < 5_000; i++) recent.remember(`id-${i}`, known(undefined));
    expect(recent.size).toBe(1_500);
    expect(recent.get('id-4999')).toMatchObject({ model_version: 'v1', label: 'positive' });
    expect(recent.get('id-3499')).toBeUndefined();
  });

  it('keeps nothing of a text larger than the whole budget, and forgets nothing for it', () => {
    const recent = new RecentPredictions({ maxBytes: 10_000 });
    recent.remember('small', known('fine'));
    recent.remember('huge', known('x'.repeat(20_000)));
    expect(recent.get('huge')).toBeUndefined();
    expect(recent.get('small')?.text).toBe('fine');
    recent.remember('small', known('again'));
    expect(recent.size).toBe(1);
    expect(recent.get('small')?.text).toBe('again');
  });
});
