import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type ObjectStore } from '@mlops/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { logKey, readLogAll, readLogObject, readLogWindow, toJsonl } from './logs.ts';

const schema = z.object({ time: z.string(), n: z.number() });

describe('reading log objects', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'monitoring-logs-'));
    store = openStore(join(root, 'store'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('counts a line past the cap as bad and reads the lines after it', async () => {
    const time = new Date();
    const key = logKey('predictions', time, 'test', 0);
    const good = (n: number) => JSON.stringify({ time: time.toISOString(), n });
    // Line 2 is 2 MiB, past the default 1 MiB cap; line 4 is not JSON; CRLF breaks are read too.
    const long = JSON.stringify({ time: time.toISOString(), n: 2, pad: 'x'.repeat(2 * 1024 * 1024) });
    await store.put(key, [good(1), long, good(3), 'not json', '', good(5)].join('\r\n'));

    expect(await readLogObject(store, key, schema)).toEqual({
      records: [1, 3, 5].map((n) => ({ time: time.toISOString(), n })),
      bad: 2,
    });
    // A smaller cap, passed from the window and the whole-log reads: every line is past 10 bytes.
    const window = { since: new Date(time.getTime() - 1000), until: new Date(time.getTime() + 1000) };
    expect(await readLogWindow(store, 'predictions', schema, window)).toMatchObject({ bad: 2, objects: 1 });
    expect(await readLogWindow(store, 'predictions', schema, window, { maxLineBytes: 10 })).toEqual({ records: [], bad: 5, objects: 1 });
    expect(await readLogAll(store, 'predictions', schema, { maxLineBytes: 10 })).toEqual({ records: [], bad: 5, objects: 1 });
    await store.put(logKey('feedback', time, 'test', 0), toJsonl([{ time: time.toISOString(), n: 7 }]));
    expect((await readLogAll(store, 'feedback', schema)).records).toEqual([{ time: time.toISOString(), n: 7 }]);
  });
});
