/**
 * Images named by digest, as tools/ci/scripts/build-images.sh writes them after pushing:
 * `{"mlops-predict": "<repository>/mlops-predict@sha256:<64 hex>", "mlops-trainer-cpu": …}`.
 * A deploy that names an image by digest runs exactly the bytes that were built and tested, and
 * re-running the deploy of an earlier commit runs that commit's images.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export const TRAINER_IMAGES = { cpu: 'mlops-trainer-cpu', gpu: 'mlops-trainer-gpu' } as const;

const imagesSchema = z.record(
  z.string().regex(/^mlops-[a-z][a-z-]*$/, 'is not an image name of this project (mlops-<name>)'),
  z.string().regex(/^[^\s@]+@sha256:[0-9a-f]{64}$/, 'is not an image by digest (<repository>/<name>@sha256:<64 hex>)'),
);
export type Images = Readonly<Record<string, string>>;

/** Reads and checks an images file; every problem is named with the file. */
export async function readImages(file: string): Promise<Images> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`cannot read the images file ${file}: ${error instanceof Error ? error.message : String(error)}`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`the images file ${file} is not JSON`);
  }
  const parsed = imagesSchema.safeParse(json);
  if (!parsed.success) throw new Error(`the images file ${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
