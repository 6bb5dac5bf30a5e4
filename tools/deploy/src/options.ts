/** Options shared by the Nx executor and the CLI, validated once at the edge; schema.json is generated from them. */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { FUNCTIONS } from './config.ts';
import { deploy, type DeployReport } from './deploy.ts';
import { PROVIDER_NAMES, PROVIDERS } from './providers/index.ts';

const canaryProviders = PROVIDER_NAMES.filter((name) => PROVIDERS[name].splitsTraffic);

export const deployOptionsSchema = z
  .object({
    function: z.enum([...FUNCTIONS, 'all']).describe('The function to deploy'),
    provider: z.enum(PROVIDER_NAMES).describe('Where to deploy'),
    dryRun: z
      .boolean()
      .default(false)
      .describe('Print and write the requests under dist/deploy/ without sending them (no credentials needed)'),
    canary: z
      .string()
      .min(1)
      .optional()
      .describe(
        `${canaryProviders.join(', ')} only: <revision>=<percent> keeps that share on the named revision, the new revision gets the rest`,
      ),
    skipBuild: z.boolean().default(false).describe('Use the bundles already in dist/functions'),
    outDir: z.string().min(1).optional().describe('Where dry-run files go (default dist/deploy)'),
    modelMb: z
      .number()
      .positive()
      .optional()
      .describe("MiB of the model's ONNX file, which sizes memory and Lambda's /tmp (default: the project's small default model)"),
    modelDir: z
      .string()
      .min(1)
      .optional()
      .describe('A model folder whose onnx/model.onnx (or model.onnx) gives the size instead of modelMb'),
  })
  .refine((o) => o.modelMb === undefined || o.modelDir === undefined, {
    path: ['modelDir'],
    message: 'give the model size once: modelMb (--model-mb) or modelDir (--model), not both',
  });

export type DeployCommandOptions = z.infer<typeof deployOptionsSchema>;

/** Where the classifier finds the ONNX model in a folder (libs/inference findOnnxModel), in its order. */
const ONNX_IN_MODEL_DIR = ['onnx/model.onnx', 'model.onnx'];

/** MiB of the ONNX model in `dir`, rounded up; a clear error when the folder has none. */
export async function modelMibOfDir(dir: string): Promise<number> {
  for (const path of ONNX_IN_MODEL_DIR) {
    const file = await stat(join(dir, path)).catch(() => undefined);
    if (file?.isFile()) return Math.ceil(file.size / 2 ** 20);
  }
  throw new Error(`model folder ${dir} has no ${ONNX_IN_MODEL_DIR.join(' or ')} to size the deploy from (--model / modelDir)`);
}

/** Validates the options (from the CLI or Nx) and deploys; a relative modelDir is read from `repoRoot` (Nx) or the working directory. */
export async function deployWithOptions(options: unknown, repoRoot?: string): Promise<DeployReport> {
  const o = deployOptionsSchema.parse(options);
  const modelMiB = o.modelDir === undefined ? o.modelMb : await modelMibOfDir(resolve(repoRoot ?? process.cwd(), o.modelDir));
  return deploy({
    target: o.function,
    provider: o.provider,
    dryRun: o.dryRun,
    canary: o.canary,
    skipBuild: o.skipBuild,
    outDir: o.outDir,
    modelMiB,
    repoRoot,
  });
}

/** One line for a failed deploy: zod's readable form for bad options. */
export function deployErrorMessage(error: unknown): string {
  return error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
}
