/**
 * Tiny Hugging Face checkpoint folders to fine-tune, as a hub download would have them: the
 * tokenizer files of the architecture (BERT: vocab.txt only; RoBERTa: a byte-level BPE tokenizer.json;
 * DistilBERT: tokenizer.json) made with the tokenizers library, and random weights under
 * transformers' own names, written by python/tests/hf_checkpoints.py (safetensors by our numpy writer).
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TextTokenizer } from '@mlops/tokenizer';
import { writeBertVocab, writeByteLevelBpe } from '@mlops/tokenizer/testing';
import type { BASE_MODEL_TYPES } from './base-model.ts';

const CHECKPOINTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'python', 'tests', 'hf_checkpoints.py');

export interface CheckpointOptions {
  modelType: (typeof BASE_MODEL_TYPES)[number];
  /** The texts the tokenizer is learnt from. */
  texts: readonly string[];
  /** No classification head (BERT: a bare BertModel's names), or a head and its id2label. */
  head: 'none' | { labels: string[] };
  format: 'bin' | 'safetensors' | 'sharded';
  /** Rows of the position table (RoBERTa's first two are never a token's). */
  positions: number;
}

export async function createHfCheckpoint(python: string, opts: CheckpointOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `hf-${opts.modelType}-`));
  const maxLength = opts.modelType === 'roberta' ? opts.positions - 2 : opts.positions;
  let vocabSize: number;
  if (opts.modelType === 'roberta') {
    vocabSize = await writeByteLevelBpe(dir, opts.texts, { maxLength });
  } else {
    const tokenizer = await TextTokenizer.train(opts.texts, { vocabSize: 300, maxLength });
    if (opts.modelType === 'bert') vocabSize = await writeBertVocab(dir, tokenizer, { lowercase: true });
    else {
      await tokenizer.save(dir);
      vocabSize = tokenizer.vocabSize;
    }
  }
  const head =
    opts.head === 'none' ? ['--head', 'none'] : ['--head', String(opts.head.labels.length), '--labels', opts.head.labels.join(',')];
  await promisify(execFile)(python, [
    CHECKPOINTS,
    dir,
    '--model-type',
    opts.modelType,
    '--vocab-size',
    String(vocabSize),
    '--positions',
    String(opts.positions),
    '--format',
    opts.format,
    ...head,
  ]);
  return dir;
}
