/** Options shared by the Nx executor and the CLI, validated once at the edge; schema.json is generated from them. */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { FUNCTIONS, setVariables } from './config.ts';
import { deploy, shiftTraffic, type DeployReport } from './deploy.ts';
import { readImages } from './images.ts';
import { PROVIDER_NAMES, PROVIDERS } from './providers/index.ts';

const trafficProviders = PROVIDER_NAMES.filter((name) => PROVIDERS[name].splitsTraffic);

export const deployOptionsSchema = z
  .object({
    function: z
      .union([z.enum([...FUNCTIONS, 'all']), z.array(z.enum(FUNCTIONS)).min(1)])
      .describe('The function to deploy, several, or all'),
    provider: z.enum(PROVIDER_NAMES).describe('Where to deploy'),
    dryRun: z
      .boolean()
      .default(false)
      .describe('Print and write the requests under dist/deploy/ without sending them (no credentials needed)'),
    nonInteractive: z
      .boolean()
      .default(false)
      .describe(
        'For pipelines: check everything before sending anything, fail on the first thing missing with one message, deploy images only by digest',
      ),
    images: z
      .string()
      .min(1)
      .optional()
      .describe('A JSON file of images by digest (tools/ci/scripts/build-images.sh writes it): the functions on Cloud Run, the trainer'),
    traffic: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe(
        `${trafficProviders.join(', ')} only: the new revision's share of traffic in percent; the revision serving now keeps the rest`,
      ),
    tag: z
      .string()
      .min(1)
      .optional()
      .describe(`${trafficProviders.join(', ')} only: a tag giving the new revision its own URL (https://<tag>---<service>…)`),
    summary: z
      .string()
      .min(1)
      .optional()
      .describe("Append what was deployed, as Markdown, to this file (a pipeline's $GITHUB_STEP_SUMMARY)"),
    envFile: z.string().min(1).optional().describe("A dotenv file of the functions' settings, read under the environment (which wins)"),
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

/** Validates the options (from the CLI or Nx) and deploys; relative paths are read from `repoRoot` (Nx) or the working directory. */
export async function deployWithOptions(options: unknown, repoRoot?: string): Promise<DeployReport> {
  const o = deployOptionsSchema.parse(options);
  const path = (p: string) => resolve(repoRoot ?? process.cwd(), p);
  const modelMiB = o.modelDir === undefined ? o.modelMb : await modelMibOfDir(path(o.modelDir));
  return deploy({
    target: o.function,
    provider: o.provider,
    dryRun: o.dryRun,
    nonInteractive: o.nonInteractive,
    images: o.images === undefined ? undefined : await readImages(path(o.images)),
    rollout: o.traffic === undefined && o.tag === undefined ? undefined : { percent: o.traffic ?? 100, ...(o.tag ? { tag: o.tag } : {}) },
    summaryFile: o.summary === undefined ? undefined : path(o.summary),
    skipBuild: o.skipBuild,
    outDir: o.outDir,
    modelMiB,
    repoRoot,
    // A blank variable in the environment does not hide the file's value.
    env: o.envFile === undefined ? process.env : { ...(await readEnvFile(path(o.envFile))), ...setVariables(process.env) },
  });
}

/** A dotenv file (KEY=value lines, # comments), parsed by Node's own util.parseEnv. */
export async function readEnvFile(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`cannot read the settings file ${file}: ${error instanceof Error ? error.message : String(error)}`);
  });
  return parseEnv(text) as Record<string, string>;
}

const shiftOptionsSchema = z.object({
  function: z.enum(FUNCTIONS),
  provider: z.enum(PROVIDER_NAMES),
  to: z.string().min(1).describe('The tag (or revision name) to move traffic to'),
  percent: z.number().int().min(1).max(100),
  summary: z.string().min(1).optional(),
});

/** `traffic <fn> --provider cloudrun --to <tag|revision> --percent N`. */
export async function shiftTrafficWithOptions(options: unknown): Promise<void> {
  const o = shiftOptionsSchema.parse(options);
  await shiftTraffic({ function: o.function, provider: o.provider, to: o.to, percent: o.percent, summaryFile: o.summary });
}

/** One line for a failed deploy: zod's readable form for bad options. */
export function deployErrorMessage(error: unknown): string {
  return error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
}
