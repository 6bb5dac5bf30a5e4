import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonText, putJson } from './json.ts';
import { openStore } from './open-store.ts';
import { randomHex } from './random-hex.ts';

describe('jsonText and putJson', () => {
  it('write indented JSON ending in a newline', async () => {
    expect(jsonText({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}\n');
    const store = openStore(await mkdtemp(join(tmpdir(), 'json-')));
    await putJson(store, 'runs/r-1/run.json', { ok: true });
    expect((await store.get('runs/r-1/run.json')).body.toString()).toBe('{\n  "ok": true\n}\n');
  });
});

describe('randomHex', () => {
  it('gives two hex digits per byte, different each time', () => {
    expect(randomHex(6)).toMatch(/^[0-9a-f]{12}$/);
    expect(randomHex(6)).not.toBe(randomHex(6));
  });
});
