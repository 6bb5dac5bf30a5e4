import { readFile } from 'node:fs/promises';
import type { TextClassifier } from '@mlops/inference';
import { z } from 'zod';

const paritySchema = z.object({
  batches: z.array(
    z.object({
      input_ids: z.array(z.array(z.number().int())),
      attention_mask: z.array(z.array(z.number().int())),
      logits: z.array(z.array(z.number())),
    }),
  ),
});

export const PARITY_TOLERANCE = 1e-3;

export class ParityError extends Error {
  readonly code = 'ONNX_PARITY_ERROR';
}

/**
 * Runs the exported ONNX model on the validation rows the PyTorch core scored and returns the largest
 * absolute logit difference; throws above the tolerance (a broken export must never be registered).
 */
export async function checkOnnxParity(classifier: TextClassifier, parityPath: string): Promise<{ maxAbsDiff: number; rows: number }> {
  const { batches } = paritySchema.parse(JSON.parse(await readFile(parityPath, 'utf8')));
  let maxAbsDiff = 0;
  let rows = 0;
  for (const batch of batches) {
    const n = batch.input_ids.length;
    const seq = batch.input_ids[0]?.length ?? 0;
    const ids = BigInt64Array.from(batch.input_ids.flat(), BigInt);
    const mask = BigInt64Array.from(batch.attention_mask.flat(), BigInt);
    const logits = await classifier.logits(ids, mask, n, seq);
    batch.logits.flat().forEach((expected, i) => {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected - logits[i]!));
    });
    rows += n;
  }
  if (rows === 0) throw new ParityError(`no parity rows in ${parityPath}: the export was not checked`);
  if (!(maxAbsDiff <= PARITY_TOLERANCE)) {
    throw new ParityError(`ONNX logits differ from PyTorch by ${maxAbsDiff} (> ${PARITY_TOLERANCE}) on ${rows} validation rows`);
  }
  return { maxAbsDiff, rows };
}
