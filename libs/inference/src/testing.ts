/**
 * Test fixture: a small randomly initialised model folder in the registry layout, built with the
 * training core's own model code and ONNX export (seconds, no training).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, REPO_ROOT } from '@mlops/config';
import { TextTokenizer } from '@mlops/tokenizer';

const TRAINER_PYTHON = join(REPO_ROOT, 'apps', 'trainer', 'python');

/** `leaning`: a class index every prediction is pushed towards (a model that always says that class). */
export async function createTinyModel(
  opts: { seed?: number; labels?: string[]; maxLength?: number; leaning?: number } = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiny-model-'));
  const maxLength = opts.maxLength ?? 16;
  const tokenizer = await TextTokenizer.train(['a good film', 'a bad film', 'great acting, awful plot'], { vocabSize: 100, maxLength });
  await tokenizer.save(dir);
  const script = `
import torch
from mlops_trainer.model import DistilBertConfig, DistilBertForSequenceClassification
from mlops_trainer.export import save_hf, export_onnx
torch.manual_seed(${opts.seed ?? 0})
m = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=${tokenizer.vocabSize}, dim=16, n_layers=1, n_heads=2,
    hidden_dim=32, activation='gelu', dropout=0.1, attention_dropout=0.0, seq_classif_dropout=0.2, initializer_range=0.02, pad_token_id=0,
    max_position_embeddings=${maxLength}, labels=${JSON.stringify(opts.labels ?? ['negative', 'positive'])}, inherited={}))
${opts.leaning === undefined ? '' : `with torch.no_grad(): m.classifier.bias[${opts.leaning}] += 100.0`}
save_hf(m, ${JSON.stringify(dir)}); export_onnx(m, ${JSON.stringify(dir)})`;
  execFileSync(loadSettings().MLOPS_PYTHON, ['-c', script], { env: { ...process.env, PYTHONPATH: TRAINER_PYTHON }, stdio: 'pipe' });
  await writeFile(join(dir, 'metrics.json'), JSON.stringify({ validation: { accuracy: 0.5, n: 2 } }));
  await writeFile(join(dir, 'lineage.json'), JSON.stringify({ fixture: true }));
  return dir;
}
