import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  replace,
  sequenceNormalizer,
  wordPieceDecoder,
} from 'tokenizers';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** The special tokens the tokenizer needs, by role, and the names to look for when a config names none (BERT's, RoBERTa's). */
const SPECIAL_ROLES = {
  pad: ['[PAD]', '<pad>'],
  unk: ['[UNK]', '<unk>'],
  cls: ['[CLS]', '<s>'],
  sep: ['[SEP]', '</s>'],
} as const;
type SpecialRole = keyof typeof SPECIAL_ROLES;

export class TokenizerError extends Error {
  readonly code = 'TOKENIZER_ERROR';
}

export interface EncodedBatch {
  /** Token ids per text, with [CLS] … [SEP], truncated to maxLength, not padded. */
  ids: number[][];
}

/** A special token in `tokenizer_config.json`: its text, or an AddedToken object holding it. */
const specialTokenSchema = z.union([z.string(), z.object({ content: z.string() }).transform((token) => token.content)]);

/**
 * HF `tokenizer_config.json`: what transformers / transformers.js read beside tokenizer.json. Each
 * field is read on its own, so one odd field does not hide the others. transformers writes a huge
 * sentinel model_max_length (1e30) for "no limit": that is no limit of ours, the model's positions are.
 */
const tokenizerConfigSchema = z.object({
  model_max_length: z.number().int().positive().max(1_000_000).optional().catch(undefined),
  do_lower_case: z.boolean().optional().catch(undefined),
  tokenize_chinese_chars: z.boolean().optional().catch(undefined),
  strip_accents: z.boolean().nullable().optional().catch(undefined),
  pad_token: specialTokenSchema.optional().catch(undefined),
  unk_token: specialTokenSchema.optional().catch(undefined),
  cls_token: specialTokenSchema.optional().catch(undefined),
  sep_token: specialTokenSchema.optional().catch(undefined),
  mask_token: specialTokenSchema.optional().catch(undefined),
});
type TokenizerConfig = z.infer<typeof tokenizerConfigSchema>;

/** What `train` writes: a DistilBERT WordPiece tokenizer's config. */
const TRAINED_CONFIG = {
  tokenizer_class: 'DistilBertTokenizer',
  do_lower_case: true,
  padding_side: 'right',
  truncation_side: 'right',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  mask_token: '[MASK]',
  clean_up_tokenization_spaces: true,
};

/** The one tokenizer used by training and serving: a Hugging Face `tokenizer.json` and its config. */
export class TextTokenizer {
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  /** The same tokenizer.json in tokenizers.js, when it encodes like the Rust one (set by `load`). */
  private fast: FastEncoder | undefined;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private _maxLength: number,
    /** tokenizer_config.json as read (or as `train` makes it), written back by `save` with the max length. */
    private readonly config: Record<string, unknown>,
  ) {
    const settings = tokenizerConfigSchema.parse(config);
    this.padId = this.requireId('pad', settings.pad_token);
    this.unkId = this.requireId('unk', settings.unk_token);
    this.clsId = this.requireId('cls', settings.cls_token);
    this.sepId = this.requireId('sep', settings.sep_token);
    tokenizer.setTruncation(_maxLength);
    // Some published tokenizer.json files pad to a fixed length; we pad per batch ourselves.
    tokenizer.disablePadding();
  }

  get maxLength(): number {
    return this._maxLength;
  }

  /** Texts are truncated to this many tokens, [CLS] and [SEP] included. */
  setMaxLength(maxLength: number): void {
    this._maxLength = maxLength;
    this.tokenizer.setTruncation(maxLength);
  }

  get vocabSize(): number {
    return this.tokenizer.getVocabSize(true);
  }

  /**
   * Loads a model folder's tokenizer: its `tokenizer.json`, or else a BERT `vocab.txt` turned into
   * one (see `bertTokenizerJson`), with `tokenizer_config.json` when present.
   */
  static async load(dir: string, maxLength?: number): Promise<TextTokenizer> {
    const config = await readTokenizerConfig(dir);
    const path = join(dir, 'tokenizer.json');
    let tokenizer: Tokenizer;
    let json: string;
    try {
      json = (await exists(path)) ? await readFile(path, 'utf8') : await bertTokenizerJson(dir, config.settings);
      tokenizer = Tokenizer.fromString(json);
    } catch (error) {
      if (error instanceof TokenizerError) throw error;
      throw new TokenizerError(`cannot load tokenizer from ${path}: ${(error as Error).message}`);
    }
    const loaded = new TextTokenizer(tokenizer, maxLength ?? config.settings.model_max_length ?? 512, config.raw);
    loaded.fast = await FastEncoder.matching(json, config.raw, loaded);
    return loaded;
  }

  /**
   * Trains a BERT-style WordPiece tokenizer on the texts. The library's default trainer gives a
   * 30k vocabulary in merge order with no special tokens; a prefix of it is still a valid WordPiece
   * vocabulary, so we keep the first `vocabSize` entries after the special tokens.
   */
  static async train(texts: Iterable<string>, opts: { vocabSize: number; maxLength: number }): Promise<TextTokenizer> {
    const scratch = await mkdtemp(join(tmpdir(), 'mlops-tokenizer-'));
    try {
      const corpus = join(scratch, 'corpus.txt');
      await writeFile(corpus, Array.from(texts, (t) => t.replace(/[\r\n]+/g, ' ')).join('\n'));
      const draft = new Tokenizer(WordPiece.empty());
      configurePipeline(draft);
      draft.train([corpus]);
      const merged = Object.entries(draft.getVocab()).sort((a, b) => a[1] - b[1]);
      const vocab: Record<string, number> = {};
      let size = 0;
      for (const token of [...SPECIAL_TOKENS, ...merged.map(([t]) => t)]) {
        if (size >= opts.vocabSize) break;
        if (!(token in vocab)) vocab[token] = size++;
      }
      const tokenizer = new Tokenizer(WordPiece.init(vocab, { unkToken: '[UNK]' }));
      configurePipeline(tokenizer);
      tokenizer.setPostProcessor(bertProcessing(['[SEP]', vocab['[SEP]']!], ['[CLS]', vocab['[CLS]']!]));
      tokenizer.setDecoder(wordPieceDecoder('##', true));
      tokenizer.addSpecialTokens([...SPECIAL_TOKENS]);
      return new TextTokenizer(tokenizer, opts.maxLength, TRAINED_CONFIG);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Writes `tokenizer.json` and `tokenizer_config.json` into a model folder. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    this.tokenizer.save(join(dir, 'tokenizer.json'));
    const config = { ...this.config, model_max_length: this.maxLength };
    await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Encodes texts to ids with [CLS] … [SEP], truncated to maxLength. */
  async encode(texts: readonly string[]): Promise<EncodedBatch> {
    if (this.fast) return { ids: texts.map((text) => this.fast!.encode(text, this._maxLength)) };
    return this.encodeWithRust(texts);
  }

  /** The Rust binding, in parallel threads: what training uses, and the reference for `FastEncoder`. */
  async encodeWithRust(texts: readonly string[]): Promise<EncodedBatch> {
    const encodings = await this.tokenizer.encodeBatch([...texts]);
    return { ids: encodings.map((e) => e.getIds()) };
  }

  /** Whether `encode` runs tokenizers.js (true for folders it reads the same as the Rust binding). */
  get usesFastEncoder(): boolean {
    return this.fast !== undefined;
  }

  async decode(ids: number[]): Promise<string> {
    return this.tokenizer.decode(ids, true);
  }

  /** The id of the token the config names for a role, else of the first conventional name the vocabulary has. */
  private requireId(role: SpecialRole, configured: string | undefined): number {
    const candidates = configured === undefined ? SPECIAL_ROLES[role] : [configured];
    for (const token of candidates) {
      const id = this.tokenizer.tokenToId(token);
      if (id !== null && id !== undefined) return id;
    }
    throw new TokenizerError(`tokenizer has no ${candidates.join(' or ')} token`);
  }
}

/** Texts that exercise normalization, splitting, unknown characters and truncation. */
const PROBES = [
  'A wonderful, MOVING film!<br /><br />Great acting... 10/10',
  'Café déjà vu: naïve ÉLAN — “quoted” ½ ☃ 😀 北京 \t tabs\u00a0nbsp',
  'word '.repeat(600),
  '',
];

/**
 * Serving-path encoder: Hugging Face's tokenizers.js on the same tokenizer.json. It is synchronous
 * and faster per text than the Rust binding (docs/benchmarks.md), whose every call hops to a thread pool and
 * back, which matters at batch 1. It has no truncation, so that is done here the way the Rust
 * binding does it: the text's tokens are cut, the special tokens around them kept.
 */
class FastEncoder {
  private constructor(
    private readonly js: JsTokenizer,
    /** Special tokens the post-processor appends after a single text ([SEP] for BERT). */
    private readonly suffixLength: number,
  ) {}

  encode(text: string, maxLength: number): number[] {
    const ids = this.js.encode(text).ids;
    if (ids.length <= maxLength) return ids;
    return [...ids.slice(0, maxLength - this.suffixLength), ...ids.slice(ids.length - this.suffixLength)];
  }

  /** A FastEncoder only when tokenizers.js reads the file and encodes the probes exactly as `reference`. */
  static async matching(json: string, config: object, reference: TextTokenizer): Promise<FastEncoder | undefined> {
    try {
      const js = new JsTokenizer(JSON.parse(json) as object, config);
      const plain = js.encode('a', { add_special_tokens: false }).ids;
      const full = js.encode('a').ids;
      const prefix = full.findIndex((_, i) => plain.every((id, j) => full[i + j] === id));
      if (prefix < 0) return undefined;
      const fast = new FastEncoder(js, full.length - prefix - plain.length);
      const expected = (await reference.encodeWithRust(PROBES)).ids;
      const same = PROBES.every((probe, i) => JSON.stringify(fast.encode(probe, reference.maxLength)) === JSON.stringify(expected[i]));
      return same ? fast : undefined;
    } catch {
      // A tokenizer.json that tokenizers.js does not support: the Rust binding serves it.
      return undefined;
    }
  }
}

/** IMDB-style `<br />` tags would cost four tokens each; the normalizer turns them into spaces. */
function configurePipeline(tokenizer: Tokenizer): void {
  tokenizer.setNormalizer(sequenceNormalizer([replace('<br />', ' '), bertNormalizer({ lowercase: true })]));
  tokenizer.setPreTokenizer(bertPreTokenizer());
}

/** The config as read (tokenizers.js takes it whole, and `save` writes it back) and the parts we use. */
async function readTokenizerConfig(dir: string): Promise<{ raw: Record<string, unknown>; settings: TokenizerConfig }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  } catch {
    return { raw: {}, settings: {} };
  }
  const object = z.record(z.string(), z.unknown()).safeParse(raw);
  return object.success ? { raw: object.data, settings: tokenizerConfigSchema.parse(object.data) } : { raw: {}, settings: {} };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * A BERT checkpoint without tokenizer.json has its WordPiece vocabulary in `vocab.txt`: build the
 * tokenizer.json transformers' own converter (BertConverter) would, with the tokenizers library's
 * classes, from the vocabulary and tokenizer_config.json's casing.
 */
async function bertTokenizerJson(dir: string, config: TokenizerConfig): Promise<string> {
  const vocab = join(dir, 'vocab.txt');
  if (!(await exists(vocab))) {
    const bpe = (await exists(join(dir, 'vocab.json'))) && (await exists(join(dir, 'merges.txt')));
    throw new TokenizerError(
      bpe
        ? `${dir} has vocab.json and merges.txt but no tokenizer.json: a byte-level BPE tokenizer (RoBERTa's) is read from its tokenizer.json only`
        : `${dir} has no tokenizer.json, nor a BERT vocab.txt to build one from`,
    );
  }
  if (config.do_lower_case === undefined) {
    throw new TokenizerError(`${dir} has vocab.txt but no tokenizer_config.json with do_lower_case: cased or uncased cannot be told`);
  }
  const names = {
    unk: config.unk_token ?? '[UNK]',
    cls: config.cls_token ?? '[CLS]',
    sep: config.sep_token ?? '[SEP]',
    pad: config.pad_token ?? '[PAD]',
    mask: config.mask_token ?? '[MASK]',
  };
  const tokenizer = new Tokenizer(await WordPiece.fromFile(vocab, { unkToken: names.unk }));
  tokenizer.setNormalizer(
    bertNormalizer({
      cleanText: true,
      handleChineseChars: config.tokenize_chinese_chars ?? true,
      lowercase: config.do_lower_case,
      // Unset, accents are stripped exactly when lowercasing, as in BertTokenizer.
      ...(typeof config.strip_accents === 'boolean' ? { stripAccents: config.strip_accents } : {}),
    }),
  );
  tokenizer.setPreTokenizer(bertPreTokenizer());
  const id = (token: string): [string, number] => {
    const found = tokenizer.tokenToId(token);
    if (found === null || found === undefined) throw new TokenizerError(`${vocab} has no ${token} token`);
    return [token, found];
  };
  tokenizer.setPostProcessor(bertProcessing(id(names.sep), id(names.cls)));
  tokenizer.setDecoder(wordPieceDecoder('##', true));
  // Only those the vocabulary has: a new token would have no row in the model's embeddings.
  tokenizer.addSpecialTokens(Object.values(names).filter((token) => tokenizer.tokenToId(token) !== null));
  const scratch = await mkdtemp(join(tmpdir(), 'mlops-vocab-'));
  try {
    tokenizer.save(join(scratch, 'tokenizer.json'));
    return await readFile(join(scratch, 'tokenizer.json'), 'utf8');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
