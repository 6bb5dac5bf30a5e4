import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decideOnce } from './decide-once.ts';
import { FileStore } from './file/file-store.ts';

const store = async () => new FileStore(await mkdtemp(join(tmpdir(), 'decide-once-')));
const opts = { leaseMs: 60_000, schema: z.object({ n: z.number() }) };

describe('decideOnce', () => {
  it('decides once among racing callers; the others wait or get the same answer', async () => {
    const s = await store();
    for (let round = 0; round < 10; round++) {
      let calls = 0;
      const decide = async () => {
        calls++;
        await sleep(5);
        return { n: round };
      };
      const results = await Promise.all(Array.from({ length: 8 }, () => decideOnce(s, `d/${round}.json`, opts, decide)));
      expect(calls).toBe(1);
      expect(results.filter((r) => r.outcome === 'decided' && !r.repeated)).toHaveLength(1);
      for (const r of results) if (r.outcome === 'decided') expect(r.value).toEqual({ n: round });
      expect(await decideOnce(s, `d/${round}.json`, opts, decide)).toEqual({ outcome: 'decided', value: { n: round }, repeated: true });
      expect(calls).toBe(1);
    }
  });

  it('lets a retry decide after a decision that threw, and takes over a holder silent past the lease', async () => {
    const s = await store();
    await expect(decideOnce(s, 'k.json', opts, () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await decideOnce(s, 'k.json', opts, async () => ({ n: 1 }))).toMatchObject({ outcome: 'decided', repeated: false });

    await s.put('held.json', JSON.stringify({ state: 'deciding', owner: 'dead', since: new Date(Date.now() - 1000).toISOString() }));
    expect(await decideOnce(s, 'held.json', opts, async () => ({ n: 2 }))).toMatchObject({ outcome: 'busy' });
    const later = { ...opts, now: () => new Date(Date.now() + 61_000) };
    expect(await decideOnce(s, 'held.json', later, async () => ({ n: 3 }))).toEqual({
      outcome: 'decided',
      value: { n: 3 },
      repeated: false,
    });
  });
});
