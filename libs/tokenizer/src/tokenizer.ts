import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export class TokenizerError extends Error {
  readonly code = 'TOKENIZER_ERROR';
}

export interface EncodedBatch {
  /** Token ids per text, with [CLS] … [SEP], truncated to maxLength, not padded. */
  ids: number[][];
}

/** HF `tokenizer_config.json`: what transformers / transformers.js read beside tokenizer.json. */
const tokenizerConfigSchema = z.object({
  model_max_length: z.number().int().positive(),
  do_lower_case: z.boolean().optional(),
});

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
  ) {
    this.padId = this.requireId('[PAD]');
    this.unkId = this.requireId('[UNK]');
    this.clsId = this.requireId('[CLS]');
    this.sepId = this.requireId('[SEP]');
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

  /** Loads `tokenizer.json` (+ `tokenizer_config.json` when present) from a model folder. */
  static async load(dir: string, maxLength?: number): Promise<TextTokenizer> {
    const path = join(dir, 'tokenizer.json');
    let tokenizer: Tokenizer;
    let json: string;
    try {
      json = await readFile(path, 'utf8');
      tokenizer = Tokenizer.fromString(json);
    } catch (error) {
      throw new TokenizerError(`cannot load tokenizer from ${path}: ${(error as Error).message}`);
    }
    const config = await readTokenizerConfig(dir);
    const loaded = new TextTokenizer(tokenizer, maxLength ?? config.settings?.model_max_length ?? 512);
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
      return new TextTokenizer(tokenizer, opts.maxLength);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Writes `tokenizer.json` and `tokenizer_config.json` into a model folder. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    this.tokenizer.save(join(dir, 'tokenizer.json'));
    const config = {
      tokenizer_class: 'DistilBertTokenizer',
      do_lower_case: true,
      model_max_length: this.maxLength,
      padding_side: 'right',
      truncation_side: 'right',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      mask_token: '[MASK]',
      clean_up_tokenization_spaces: true,
    };
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

  private requireId(token: SpecialToken): number {
    const id = this.tokenizer.tokenToId(token);
    if (id === null || id === undefined) throw new TokenizerError(`tokenizer has no ${token} token`);
    return id;
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

/** The config as read (tokenizers.js takes it whole) and the parts we use, when they are valid. */
async function readTokenizerConfig(dir: string): Promise<{ raw: object; settings?: z.infer<typeof tokenizerConfigSchema> }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  } catch {
    return { raw: {} };
  }
  const parsed = tokenizerConfigSchema.loose().safeParse(raw);
  // Some published configs carry a huge sentinel model_max_length; the model config bounds it then.
  return parsed.success ? { raw: parsed.data, settings: parsed.data } : { raw: typeof raw === 'object' && raw !== null ? raw : {} };
}
