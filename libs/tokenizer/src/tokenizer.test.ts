import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextTokenizer, TokenizerError } from './tokenizer.ts';

const corpus = Array.from({ length: 300 }, (_, i) =>
  i % 2 ? `A wonderful, moving film number ${i}.<br /><br />Great acting!` : `A dull and boring movie ${i}. Awful plot.`,
);

describe('TextTokenizer', () => {
  let dir: string;
  let tokenizer: TextTokenizer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tok-test-'));
    tokenizer = await TextTokenizer.train(corpus, { vocabSize: 200, maxLength: 16 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('puts the special tokens first and caps the vocabulary', () => {
    expect([tokenizer.padId, tokenizer.unkId, tokenizer.clsId, tokenizer.sepId]).toEqual([0, 1, 2, 3]);
    expect(tokenizer.vocabSize).toBe(200);
  });

  it('wraps in [CLS] … [SEP], truncates, lowercases and drops <br /> tags', async () => {
    const { ids } = await tokenizer.encode(['WONDERFUL film<br />', 'great '.repeat(50)]);
    expect(ids[0]![0]).toBe(tokenizer.clsId);
    expect(ids[0]!.at(-1)).toBe(tokenizer.sepId);
    expect(await tokenizer.decode(ids[0]!)).toBe('wonderful film');
    expect(ids[1]).toHaveLength(16);
    expect(ids[1]!.at(-1)).toBe(tokenizer.sepId);
  });

  it('maps unseen characters to [UNK]', async () => {
    const { ids } = await tokenizer.encode(['☃']);
    expect(ids[0]).toEqual([tokenizer.clsId, tokenizer.unkId, tokenizer.sepId]);
  });

  it('round-trips through tokenizer.json with identical ids', async () => {
    await tokenizer.save(dir);
    const loaded = await TextTokenizer.load(dir);
    expect(loaded.maxLength).toBe(16);
    const texts = ['A wonderful film, great acting', 'boring plot 42', ''];
    expect((await loaded.encode(texts)).ids).toEqual((await tokenizer.encode(texts)).ids);
  });

  it('fails clearly on a missing or corrupt tokenizer.json', async () => {
    await expect(TextTokenizer.load(join(dir, 'nope'))).rejects.toThrow(TokenizerError);
    const bad = await mkdtemp(join(tmpdir(), 'tok-bad-'));
    await writeFile(join(bad, 'tokenizer.json'), '{"not": "a tokenizer"');
    await expect(TextTokenizer.load(bad)).rejects.toThrow(/cannot load tokenizer/);
    await rm(bad, { recursive: true, force: true });
  });
});
