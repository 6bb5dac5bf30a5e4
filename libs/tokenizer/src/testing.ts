/**
 * Test fixtures: the tokenizer files of Hugging Face checkpoints, made with the tokenizers library
 * from a few texts: a BERT `vocab.txt` (no tokenizer.json) and a RoBERTa byte-level BPE `tokenizer.json`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPE, Tokenizer, byteLevelAlphabet, byteLevelPreTokenizer, robertaProcessing } from 'tokenizers';
import { z } from 'zod';
import { TextTokenizer } from './tokenizer.ts';

const savedModelSchema = z.object({
  model: z.object({
    vocab: z.record(z.string(), z.number()),
    merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])).optional(),
  }),
});

async function savedModel(tokenizer: { save(path: string): void } | TextTokenizer): Promise<z.infer<typeof savedModelSchema>['model']> {
  const scratch = await mkdtemp(join(tmpdir(), 'tok-fixture-'));
  try {
    if (tokenizer instanceof TextTokenizer) await tokenizer.save(scratch);
    else tokenizer.save(join(scratch, 'tokenizer.json'));
    return savedModelSchema.parse(JSON.parse(await readFile(join(scratch, 'tokenizer.json'), 'utf8'))).model;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A BERT folder's tokenizer files as the original checkpoints have them, vocab.txt and
 * tokenizer_config.json only, holding the WordPiece vocabulary of `trained`.
 */
export async function writeBertVocab(dir: string, trained: TextTokenizer, opts: { lowercase: boolean }): Promise<number> {
  const { vocab } = await savedModel(trained);
  const tokens = Object.entries(vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.txt'), `${tokens.join('\n')}\n`);
  const config = { tokenizer_class: 'BertTokenizer', do_lower_case: opts.lowercase, model_max_length: trained.maxLength };
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return tokens.length;
}

const ROBERTA_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'] as const;

/**
 * A RoBERTa folder's tokenizer: byte-level BPE learnt on the texts, the 256 byte symbols so any
 * text encodes, <s> … </s> around each text, as roberta-base's tokenizer.json has it.
 */
export async function writeByteLevelBpe(dir: string, texts: readonly string[], opts: { maxLength: number }): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'bpe-fixture-'));
  try {
    const corpus = join(scratch, 'corpus.txt');
    await writeFile(corpus, texts.join('\n'));
    const draft = new Tokenizer(BPE.empty());
    draft.setPreTokenizer(byteLevelPreTokenizer(false, true));
    draft.train([corpus]);
    const learnt = await savedModel(draft);
    const vocab: Record<string, number> = {};
    const learntTokens = Object.entries(learnt.vocab).sort((a, b) => a[1] - b[1]);
    for (const token of [...ROBERTA_SPECIALS, ...byteLevelAlphabet().sort(), ...learntTokens.map(([t]) => t), '<mask>']) {
      vocab[token] ??= Object.keys(vocab).length;
    }
    const merges = (learnt.merges ?? []).map((merge) => (typeof merge === 'string' ? (merge.split(' ') as [string, string]) : merge));
    const tokenizer = new Tokenizer(BPE.init(vocab, merges, { unkToken: '<unk>' }));
    tokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
    tokenizer.setPostProcessor(robertaProcessing(['</s>', vocab['</s>']!], ['<s>', vocab['<s>']!], true, false));
    tokenizer.addSpecialTokens([...ROBERTA_SPECIALS, '<mask>']);
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'tokenizer.json');
    tokenizer.save(path);
    // The Node binding has no ByteLevel decoder to set (decoding only; encoding is all the library's).
    const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(
      path,
      JSON.stringify({ ...json, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } }),
    );
    const config = {
      tokenizer_class: 'RobertaTokenizer',
      bos_token: '<s>',
      eos_token: '</s>',
      cls_token: '<s>',
      sep_token: '</s>',
      unk_token: '<unk>',
      pad_token: '<pad>',
      mask_token: {
        __type: 'AddedToken',
        content: '<mask>',
        lstrip: true,
        normalized: false,
        rstrip: false,
        single_word: false,
        special: true,
      },
      add_prefix_space: false,
      model_max_length: opts.maxLength,
    };
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    return Object.keys(vocab).length;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
