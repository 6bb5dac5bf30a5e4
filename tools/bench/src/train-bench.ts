/**
 * Training benchmark (not a test): runs the real training job on IMDB train into a throwaway store and
 * prints examples/second and where the wall-clock time goes, PyTorch steps against everything else.
 *   npm run bench:train -- [--epochs N] [--data PATH] [--eval PATH]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultData, loadSettings } from '@mlops/config';
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
  },
});

const store = await mkdtemp(join(tmpdir(), 'mlops-bench-'));
const speeds: number[] = [];
let steps = 0;
console.error(`training ${values.epochs} epoch(s) on ${values.data} …`);
try {
  const result = await trainModel({
    data: values.data,
    ...(values.eval ? { eval: values.eval } : {}),
    hyper: { epochs: Number(values.epochs), patience: Number(values.epochs) },
    registry: createRegistry(openStore(store)),
    python: settings.MLOPS_PYTHON,
    actor: 'bench',
    onProgress: (p) => {
      if (p.phase === 'core' && p.event.event === 'step') {
        speeds.push(p.event.examples_per_second);
        steps = p.event.step;
        if (steps % 200 === 0) console.error(`  step ${steps}/${p.event.steps_total}, ${p.event.examples_per_second} ex/s`);
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
  console.log(`\ntraining speed: median ${median.toFixed(0)} examples/s over ${steps} steps`);
  console.log(`outside the PyTorch steps: ${(total - pytorchSteps).toFixed(1)}s (${((100 * (total - pytorchSteps)) / total).toFixed(1)}%)`);
  console.log(
    `tokenizer training + tokenization + shard writing: ${prep.toFixed(1)}s (${((100 * prep) / total).toFixed(1)}% of the job; target < 10%)`,
  );
} finally {
  await rm(store, { recursive: true, force: true });
}
