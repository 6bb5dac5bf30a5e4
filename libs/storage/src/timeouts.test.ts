import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { failWhenStalled, storeTimeoutsFromEnv, StoreTimeoutError } from './timeouts.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('failWhenStalled', () => {
  it('passes a stream through', async () => {
    expect((await buffer(failWhenStalled(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 100))).toString()).toBe('abcd');
  });

  it('fails, and destroys the source, when no data comes while it is read', async () => {
    const source = new PassThrough();
    source.write('first');
    const stream = failWhenStalled(source, 100);
    const started = Date.now();
    await expect(buffer(stream)).rejects.toThrow(StoreTimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(source.destroyed).toBe(true);
  });

  it('does not count the time its reader is not reading', async () => {
    // 64 KiB chunks with a 16 KiB buffer: the reader's pauses hold the source back (backpressure).
    const source = Readable.from(
      Array.from({ length: 6 }, () => Buffer.alloc(65_536)),
      { objectMode: false, highWaterMark: 16_384 },
    );
    const stream = failWhenStalled(source, 100);
    let bytes = 0;
    for await (const chunk of stream) {
      bytes += (chunk as Buffer).length;
      await sleep(150);
    }
    expect(bytes).toBe(6 * 65_536);
  });

  it('passes on the source’s error', async () => {
    const source = new PassThrough();
    const stream = failWhenStalled(source, 1_000);
    setTimeout(() => source.destroy(new Error('connection reset')), 10);
    await expect(buffer(stream)).rejects.toThrow('connection reset');
  });
});

describe('storeTimeoutsFromEnv', () => {
  it('reads milliseconds, 0 for none, with defaults', () => {
    expect(storeTimeoutsFromEnv({})).toEqual({ responseMs: 30_000, stallMs: 30_000 });
    expect(storeTimeoutsFromEnv({ MLOPS_STORE_RESPONSE_TIMEOUT_MS: '0', MLOPS_STORE_STALL_TIMEOUT_MS: '120000' })).toEqual({
      responseMs: 0,
      stallMs: 120_000,
    });
    expect(() => storeTimeoutsFromEnv({ MLOPS_STORE_STALL_TIMEOUT_MS: '30s' })).toThrow(/MLOPS_STORE_STALL_TIMEOUT_MS must be/);
  });
});
