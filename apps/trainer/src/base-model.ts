import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { positionsConfigSchema, usablePositions } from '@mlops/inference';
import { TextTokenizer } from '@mlops/tokenizer';
import { z } from 'zod';
import type { BaseEvent } from './events.ts';

/** The Hugging Face architectures `--base` fine-tunes (python/mlops_trainer/base.py builds them). */
export const BASE_MODEL_TYPES = ['distilbert', 'bert', 'roberta'] as const;

const baseConfigSchema = positionsConfigSchema.extend({
  model_type: z.enum(BASE_MODEL_TYPES, {
    error: (issue) => `model_type ${JSON.stringify(issue.input)} is not one of ${BASE_MODEL_TYPES.join(', ')}`,
  }),
  max_position_embeddings: z.number().int().positive(),
});

export class BaseModelError extends Error {
  readonly code = 'BASE_MODEL_ERROR';
}

async function readBaseConfig(dir: string): Promise<z.infer<typeof baseConfigSchema>> {
  const path = join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new BaseModelError(`base folder ${dir}: cannot read config.json: ${(error as Error).message}`);
  }
  const parsed = baseConfigSchema.safeParse(raw);
  if (!parsed.success) throw new BaseModelError(`base folder ${dir}: config.json: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The base folder's own tokenizer (tokenizer.json, or a BERT vocab.txt made into one), checked against
 * the architecture before any data is tokenized. Texts are cut at the tokenizer's own length unless
 * `maxLength` is given, and never beyond what the model's position table holds.
 */
export async function loadBaseTokenizer(dir: string, maxLength?: number): Promise<TextTokenizer> {
  const config = await readBaseConfig(dir);
  const positions = usablePositions(config)!;
  if (maxLength !== undefined && maxLength > positions) {
    throw new BaseModelError(`max length ${maxLength} exceeds the base model's ${positions} positions`);
  }
  const tokenizer = await TextTokenizer.load(dir, maxLength);
  if (tokenizer.maxLength > positions) tokenizer.setMaxLength(positions);
  return tokenizer;
}

/** One line for the training log: where the weights came from and which ones start fresh. */
export function describeBase(event: BaseEvent): string {
  const list = (names: string[]) => (names.length > 4 ? `${names.slice(0, 4).join(', ')} … (${names.length})` : names.join(', '));
  return [
    `base: ${event.model_type} from ${event.files.join(', ')}; head ${event.head}; classes ${event.labels.join(', ')}`,
    event.new_weights.length ? `new weights: ${list(event.new_weights)}` : 'no new weights',
    ...(event.unused_weights.length ? [`unused: ${list(event.unused_weights)}`] : []),
  ].join('; ');
}
