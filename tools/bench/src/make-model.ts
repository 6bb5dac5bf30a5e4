/**
 * A model folder of a real Hugging Face model's shape with random weights, made by the training
 * core's own code (nothing is downloaded): to measure speed, memory and sizes at real size, never
 * accuracy. Its tokenizer is a WordPiece of the real vocabulary size trained on IMDB train.
 *   npm run bench:model -- distilbert-base|bert-base --out DIR
 * then: npm run bench:serve -- --model DIR
 */
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { defaultData, loadSettings } from '@mlops/config';
import { readExamples } from '@mlops/data';
import { createRandomModel, type ModelShape, type TinyModelType } from '@mlops/inference/testing';

/** The shapes of distilbert-base-uncased and bert-base-uncased (their config.json). */
const REAL_SHAPES: Record<string, { modelType: TinyModelType; shape: ModelShape; vocabSize: number; maxLength: number }> = {
  'distilbert-base': {
    modelType: 'distilbert',
    shape: { hidden: 768, layers: 6, heads: 12, ffn: 3072 },
    vocabSize: 30_522,
    maxLength: 512,
  },
  'bert-base': { modelType: 'bert', shape: { hidden: 768, layers: 12, heads: 12, ffn: 3072 }, vocabSize: 30_522, maxLength: 512 },
};

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
const name = positionals[0] ?? '';
const real = REAL_SHAPES[name];
if (!real || !values.out) {
  console.error(`usage: npm run bench:model -- <${Object.keys(REAL_SHAPES).join('|')}> --out DIR`);
  process.exit(2);
}
const t0 = performance.now();
const texts: string[] = [];
for await (const example of readExamples(defaultData(loadSettings()).train, { requireLabel: false })) texts.push(example.text);
console.error(`[bench:model] ${texts.length} IMDB train texts read; training a ${real.vocabSize}-token WordPiece, building ${name}`);
await rm(values.out, { recursive: true, force: true });
const dir = await createRandomModel({ ...real, dir: values.out, vocabTexts: texts });
console.error(`[bench:model] ${name} written to ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
