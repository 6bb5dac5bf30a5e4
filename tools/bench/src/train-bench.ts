/**
 * Training benchmark (not a test): runs the real training job on IMDB train into a throwaway store and
 * prints examples/second and where the wall-clock time goes, PyTorch steps against everything else.
 *   npm run bench:train -- [--epochs N] [--data PATH] [--eval PATH] [--rows N] [--max-length N] [--base DIR]
 * `--rows` trains on a stratified sample of that many rows; `--base` fine-tunes a Hugging Face folder
 * (e.g. one from `npm run bench:model`) instead of training the default model from scratch.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultData, loadSettings } from '@mlops/config';
import { loadDataset, stratifiedSplit } from '@mlops/data';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { trainModel } from '@mlops/trainer';
import { markdownTable } from './markdown.ts';

const settings = loadSettings();
const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '1' },
    data: { type: 'string', default: defaultData(settings).train },
    eval: { type: 'string' },
    rows: { type: 'string' },
    'max-length': { type: 'string' },
    base: { type: 'string' },
  },
});

const store = await mkdtemp(join(tmpdir(), 'mlops-bench-'));

/** A stratified sample of `rows` rows of `data`, as a JSONL file of its own. */
async function sampleOf(data: string, rows: number): Promise<string> {
  const { examples } = await loadDataset(data);
  if (!(rows > 0 && rows < examples.length)) throw new Error(`--rows must be between 1 and ${examples.length - 1} (got ${rows})`);
  const { validation } = stratifiedSplit(examples, { validationRatio: rows / examples.length, seed: 0 });
  const path = join(store, `sample-${rows}.jsonl`);
  await writeFile(path, validation.map(({ text, label }) => JSON.stringify({ text, label })).join('\n') + '\n');
  return path;
}
const speeds: number[] = [];
let steps = 0;
try {
  const data = values.rows ? await sampleOf(values.data, Number(values.rows)) : values.data;
  const maxLength = values['max-length'] ? { maxLength: Number(values['max-length']) } : {};
  console.error(`training ${values.epochs} epoch(s) on ${data}${values.base ? `, fine-tuning ${values.base}` : ''} …`);
  const started = performance.now();
  const result = await trainModel({
    data,
    ...(values.eval ? { eval: values.eval } : {}),
    ...(values.base ? { base: values.base } : {}),
    hyper: { epochs: Number(values.epochs), patience: Number(values.epochs), ...maxLength },
    registry: createRegistry(openStore(store)),
    python: settings.MLOPS_PYTHON,
    actor: 'bench',
    onProgress: (p) => {
      if (p.phase === 'core' && p.event.event === 'step') {
        speeds.push(p.event.examples_per_second);
        const every = Math.max(1, Math.round(p.event.steps_total / 20));
        if (Math.floor(p.event.step / every) > Math.floor(steps / every))
          console.error(`  step ${p.event.step}/${p.event.steps_total}, ${p.event.examples_per_second} ex/s`);
        steps = p.event.step;
      } else if (p.phase === 'prepare') console.error(`  ${p.message}`);
    },
  });
  const t = result.timings;
  const total = t.total!;
  const pytorchSteps = t.core_train;
  if (pytorchSteps === undefined) throw new Error('the training job reported no PyTorch step time (timings.core_train)');
  const rows: [string, number][] = [
    ['python + torch import check', t.check_python ?? 0],
    ['read + validate + dedup data', t.read_data ?? 0],
    ['train tokenizer', t.tokenizer ?? 0],
    ['tokenize + write shards', t.tokenize_and_shard ?? 0],
    ['PyTorch training steps', pytorchSteps],
    ['  core start-up, validation passes, ONNX export', (t.train_and_export ?? 0) - pytorchSteps],
    ['ONNX parity check', t.onnx_parity ?? 0],
    ['evaluate (onnxruntime)', t.evaluate ?? 0],
    ['register', t.register ?? 0],
  ];
  const median = speeds.sort((a, b) => a - b)[Math.floor(speeds.length / 2)] ?? 0;
  const phaseCells = rows.map(([name, s]) => [name, s.toFixed(1), `${((100 * s) / total).toFixed(1)}%`]);
  console.log(
    `\n${markdownTable([{ title: 'phase' }, { title: 'seconds', align: 'right' }, { title: 'share', align: 'right' }], [...phaseCells, ['total', total.toFixed(1), '100%']])}`,
  );
  const prep = (t.tokenizer ?? 0) + (t.tokenize_and_shard ?? 0);
  console.log(`\ntraining speed: median ${median.toFixed(1)} examples/s over ${steps} steps`);
  console.log(`wall clock: ${((performance.now() - started) / 60_000).toFixed(1)} min, the job's own total ${(total / 60).toFixed(1)} min`);
  console.log(`outside the PyTorch steps: ${(total - pytorchSteps).toFixed(1)}s (${((100 * (total - pytorchSteps)) / total).toFixed(1)}%)`);
  console.log(
    `tokenizer training + tokenization + shard writing: ${prep.toFixed(1)}s (${((100 * prep) / total).toFixed(1)}% of the job; target < 10%)`,
  );
} finally {
  await rm(store, { recursive: true, force: true });
}
