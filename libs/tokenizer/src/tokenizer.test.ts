import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBertVocab, writeByteLevelBpe } from './testing.ts';
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

describe('base model tokenizers', () => {
  const texts = corpus.map((text) => text.replace(/<br \/>/g, ' '));
  const probes = [
    ...texts.slice(0, 10),
    'ÉLAN, naïve café! Déjà vu… “quoted” — ½ ☃ 😀 北京大学 tabs\tand\u00a0nbsp',
    'Wonderful MOVING Film '.repeat(30),
    '',
  ];

  it('builds a BERT tokenizer.json from vocab.txt, cased or not as tokenizer_config.json says', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tok-vocab-'));
    const trained = await TextTokenizer.train(texts, { vocabSize: 200, maxLength: 24 });
    expect(await writeBertVocab(dir, trained, { lowercase: true })).toBe(200);
    const fromVocab = await TextTokenizer.load(dir);
    expect(fromVocab.vocabSize).toBe(200);
    expect([fromVocab.padId, fromVocab.unkId, fromVocab.clsId, fromVocab.sepId]).toEqual([0, 1, 2, 3]);
    expect((await fromVocab.encode(probes)).ids).toEqual((await trained.encodeWithRust(probes)).ids);
    expect(fromVocab.usesFastEncoder).toBe(true);
    expect(await fromVocab.encode(probes)).toEqual(await fromVocab.encodeWithRust(probes));

    // Saved, it is a tokenizer.json beside the checkpoint's own config, which serving loads the same.
    const saved = await mkdtemp(join(tmpdir(), 'tok-vocab-saved-'));
    await fromVocab.save(saved);
    const config = JSON.parse(await readFile(join(saved, 'tokenizer_config.json'), 'utf8'));
    expect(config).toEqual({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 24 });
    expect((await (await TextTokenizer.load(saved)).encode(probes)).ids).toEqual((await fromVocab.encode(probes)).ids);

    const cased = await mkdtemp(join(tmpdir(), 'tok-cased-'));
    await writeBertVocab(cased, trained, { lowercase: false });
    const casedTokenizer = await TextTokenizer.load(cased);
    const [lower, upper] = (await casedTokenizer.encode(['wonderful', 'WONDERFUL'])).ids;
    expect(upper).not.toEqual(lower);
    expect(upper).toContain(casedTokenizer.unkId);
    await Promise.all([dir, saved, cased].map((d) => rm(d, { recursive: true, force: true })));
  });

  it('refuses a vocab.txt of unknown casing, and a RoBERTa folder without tokenizer.json, naming what is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tok-no-config-'));
    await writeBertVocab(dir, await TextTokenizer.train(texts, { vocabSize: 100, maxLength: 24 }), { lowercase: true });
    await rm(join(dir, 'tokenizer_config.json'));
    await expect(TextTokenizer.load(dir)).rejects.toThrow(/vocab.txt but no tokenizer_config.json with do_lower_case/);
    await rm(join(dir, 'vocab.txt'));
    await expect(TextTokenizer.load(dir)).rejects.toThrow(/has no tokenizer.json, nor a BERT vocab.txt/);
    await writeFile(join(dir, 'vocab.json'), '{}');
    await writeFile(join(dir, 'merges.txt'), '');
    await expect(TextTokenizer.load(dir)).rejects.toThrow(/byte-level BPE tokenizer \(RoBERTa's\) is read from its tokenizer.json only/);
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a RoBERTa byte-level BPE tokenizer.json with its own special tokens, tokenizers.js giving the Rust binding's ids", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tok-bpe-'));
    await writeByteLevelBpe(dir, texts, { maxLength: 20 });
    const tokenizer = await TextTokenizer.load(dir);
    expect([tokenizer.clsId, tokenizer.padId, tokenizer.sepId, tokenizer.unkId]).toEqual([0, 1, 2, 3]);
    const { ids } = await tokenizer.encodeWithRust(probes);
    expect(ids[0]![0]).toBe(tokenizer.clsId);
    expect(ids[0]!.at(-1)).toBe(tokenizer.sepId);
    expect(ids.some((row) => row.length === 20 && row.at(-1) === tokenizer.sepId)).toBe(true);
    expect(ids.flat()).not.toContain(tokenizer.unkId); // every byte has a symbol
    expect(tokenizer.usesFastEncoder).toBe(true);
    expect((await tokenizer.encode(probes)).ids).toEqual(ids);

    // A config that names no special tokens: RoBERTa's conventional names are found in the vocabulary.
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30 }));
    const bare = await TextTokenizer.load(dir);
    expect([bare.clsId, bare.padId, bare.sepId]).toEqual([0, 1, 2]);
    expect(bare.maxLength).toBe(512); // the 1e30 sentinel is no limit: the model's positions bound it
    await rm(dir, { recursive: true, force: true });
  });
});
