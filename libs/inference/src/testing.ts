/**
 * Test fixture: a small randomly initialised model folder in the registry layout, built with the
 * training core's own model code and ONNX export (seconds, no training).
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, REPO_ROOT } from '@mlops/config';
import { TextTokenizer } from '@mlops/tokenizer';
import { writeByteLevelBpe } from '@mlops/tokenizer/testing';

const TRAINER_PYTHON = join(REPO_ROOT, 'apps', 'trainer', 'python');

const TEXTS = ['a good film', 'a bad film', 'great acting, awful plot'];

/** An encoder's size: hidden width, layers, attention heads and feed-forward width. */
export interface ModelShape {
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
}

const TINY_SHAPE: ModelShape = { hidden: 16, layers: 1, heads: 2, ffn: 32 };

/** The model's Python constructor, per architecture, with every config field named (the core has no defaults). */
function modelSource(modelType: TinyModelType, shape: ModelShape, vocabSize: number, positions: number, labels: string[]): string {
  if (modelType === 'distilbert') {
    return `DistilBertForSequenceClassification(DistilBertConfig(vocab_size=${vocabSize}, dim=${shape.hidden}, n_layers=${shape.layers}, n_heads=${shape.heads},
    hidden_dim=${shape.ffn}, activation='gelu', dropout=0.1, attention_dropout=0.0, seq_classif_dropout=0.2, initializer_range=0.02, pad_token_id=0,
    max_position_embeddings=${positions}, labels=${JSON.stringify(labels)}, inherited={}))`;
  }
  const roberta = modelType === 'roberta';
  return `${roberta ? 'Roberta' : 'Bert'}ForSequenceClassification(BertConfig(model_type='${modelType}', vocab_size=${vocabSize},
    hidden_size=${shape.hidden}, num_hidden_layers=${shape.layers}, num_attention_heads=${shape.heads}, intermediate_size=${shape.ffn}, hidden_act='gelu', hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.0, max_position_embeddings=${positions}, type_vocab_size=${roberta ? 1 : 2}, initializer_range=0.02,
    layer_norm_eps=1e-12, pad_token_id=${roberta ? 1 : 0}, classifier_dropout=None, labels=${JSON.stringify(labels)}, inherited={}))`;
}

export type TinyModelType = 'distilbert' | 'bert' | 'roberta';

export interface RandomModelOptions {
  seed?: number;
  labels?: string[];
  maxLength?: number;
  /** A class index every prediction is pushed towards (a model that always says that class). */
  leaning?: number;
  /** DistilBERT by default; BERT's export takes token_type_ids, RoBERTa's tokenizer is byte-level BPE (its config allows 512 tokens, its position table `maxLength` + 2 rows). */
  modelType?: TinyModelType;
  shape?: ModelShape;
  /** The WordPiece tokenizer's training texts and size (DistilBERT and BERT). */
  vocabTexts?: string[];
  vocabSize?: number;
  /** Where to write the folder (default: a new temporary folder). */
  dir?: string;
}

/**
 * A randomly initialised model folder in the registry layout, built with the training core's own
 * model code and export: tiny for tests, or of a real model's shape to measure speed and memory.
 */
export async function createRandomModel(opts: RandomModelOptions = {}): Promise<string> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'random-model-')));
  await mkdir(dir, { recursive: true });
  const maxLength = opts.maxLength ?? 16;
  const modelType = opts.modelType ?? 'distilbert';
  let vocabSize: number;
  if (modelType === 'roberta') {
    vocabSize = await writeByteLevelBpe(dir, TEXTS, { maxLength: 512 });
  } else {
    const tokenizer = await TextTokenizer.train(opts.vocabTexts ?? TEXTS, { vocabSize: opts.vocabSize ?? 100, maxLength });
    await tokenizer.save(dir);
    vocabSize = tokenizer.vocabSize;
  }
  const positions = modelType === 'roberta' ? maxLength + 2 : maxLength;
  const script = `
import torch
from mlops_trainer.bert import BertConfig, BertForSequenceClassification, RobertaForSequenceClassification
from mlops_trainer.model import DistilBertConfig, DistilBertForSequenceClassification
from mlops_trainer.export import save_hf, export_onnx
torch.manual_seed(${opts.seed ?? 0})
m = ${modelSource(modelType, opts.shape ?? TINY_SHAPE, vocabSize, positions, opts.labels ?? ['negative', 'positive'])}
output = m.classifier.out_proj if ${modelType === 'roberta' ? 'True' : 'False'} else m.classifier
${opts.leaning === undefined ? '' : `with torch.no_grad(): output.bias[${opts.leaning}] += 100.0`}
save_hf(m, ${JSON.stringify(dir)}); export_onnx(m, ${JSON.stringify(dir)})`;
  execFileSync(loadSettings().MLOPS_PYTHON, ['-c', script], { env: { ...process.env, PYTHONPATH: TRAINER_PYTHON }, stdio: 'pipe' });
  await writeFile(join(dir, 'metrics.json'), JSON.stringify({ validation: { accuracy: 0.5, n: 2 } }));
  await writeFile(join(dir, 'lineage.json'), JSON.stringify({ fixture: true, random_weights: true }));
  return dir;
}

/**
 * A copy of a model folder with its own lineage: the same weights registered as another version
 * (the registry returns the existing version for content it already has).
 */
export async function copyAsAnotherVersion(dir: string, tag = 'copy'): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'model-copy-'));
  await cp(dir, copy, { recursive: true });
  await writeFile(join(copy, 'lineage.json'), JSON.stringify({ fixture: true, random_weights: true, copy: tag }));
  return copy;
}

/** A tiny random model folder (seconds, no training): the tests' fixture. */
export function createTinyModel(opts: Omit<RandomModelOptions, 'shape' | 'vocabTexts' | 'vocabSize'> = {}): Promise<string> {
  return createRandomModel(opts);
}
