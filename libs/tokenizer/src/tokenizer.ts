import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
    try {
      await stat(path);
      tokenizer = Tokenizer.fromFile(path);
    } catch (error) {
      throw new TokenizerError(`cannot load tokenizer from ${path}: ${(error as Error).message}`);
    }
    const config = await readTokenizerConfig(dir);
    return new TextTokenizer(tokenizer, maxLength ?? config?.model_max_length ?? 512);
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

  /** Encodes texts in parallel (Rust threads) to ids with [CLS] … [SEP], truncated to maxLength. */
  async encode(texts: readonly string[]): Promise<EncodedBatch> {
    const encodings = await this.tokenizer.encodeBatch([...texts]);
    return { ids: encodings.map((e) => e.getIds()) };
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

/** IMDB-style `<br />` tags would cost four tokens each; the normalizer turns them into spaces. */
function configurePipeline(tokenizer: Tokenizer): void {
  tokenizer.setNormalizer(sequenceNormalizer([replace('<br />', ' '), bertNormalizer({ lowercase: true })]));
  tokenizer.setPreTokenizer(bertPreTokenizer());
}

async function readTokenizerConfig(dir: string): Promise<z.infer<typeof tokenizerConfigSchema> | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = tokenizerConfigSchema.safeParse(raw);
  // Some published configs carry a huge sentinel model_max_length; the model config bounds it then.
  return parsed.success ? parsed.data : undefined;
}
