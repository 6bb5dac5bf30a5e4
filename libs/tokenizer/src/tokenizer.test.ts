import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('serves with tokenizers.js, giving the same ids as the Rust binding, truncation included', async () => {
    await tokenizer.save(dir);
    const loaded = await TextTokenizer.load(dir);
    expect(loaded.usesFastEncoder).toBe(true);
    const texts = [
      ...corpus.slice(0, 20),
      'ÉLAN, naïve café!<br />Déjà vu… “quoted” — ½ ☃ 😀 北京大学 tabs\tand\u00a0nbsp',
      'good film '.repeat(40),
      'ends exactly at the limit: a b c d e f g h i j k l m',
      '   ',
      '',
      'A\u0000control\u0007chars\r\nnew lines',
    ];
    const fast = await loaded.encode(texts);
    expect(fast.ids.some((ids) => ids.length === loaded.maxLength)).toBe(true);
    expect(fast).toEqual(await loaded.encodeWithRust(texts));
  });

  it('falls back to the Rust binding when tokenizers.js cannot read the file', async () => {
    const other = await mkdtemp(join(tmpdir(), 'tok-other-'));
    await tokenizer.save(other);
    const json = JSON.parse(await readFile(join(other, 'tokenizer.json'), 'utf8')) as { pre_tokenizer: unknown };
    // A pre-tokenizer only the Rust library knows.
    json.pre_tokenizer = { type: 'CharDelimiterSplit', delimiter: ' ' };
    await writeFile(join(other, 'tokenizer.json'), JSON.stringify(json));
    const loaded = await TextTokenizer.load(other);
    expect(loaded.usesFastEncoder).toBe(false);
    expect((await loaded.encode(['good film'])).ids[0]![0]).toBe(loaded.clsId);
    await rm(other, { recursive: true, force: true });
  });
});
