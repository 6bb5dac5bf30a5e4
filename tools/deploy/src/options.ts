/** Options shared by the Nx executor and the CLI, validated once at the edge; schema.json is generated from them. */
import { z } from 'zod';
import { FUNCTIONS } from './config.ts';
import { deploy, type DeployReport } from './deploy.ts';
import { PROVIDER_NAMES, PROVIDERS } from './providers/index.ts';

const canaryProviders = PROVIDER_NAMES.filter((name) => PROVIDERS[name].splitsTraffic);

export const deployOptionsSchema = z.object({
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
});

export type DeployCommandOptions = z.infer<typeof deployOptionsSchema>;

/** Validates the options (from the CLI or Nx) and deploys. */
export function deployWithOptions(options: unknown, repoRoot?: string): Promise<DeployReport> {
  const o = deployOptionsSchema.parse(options);
  return deploy({
    target: o.function,
    provider: o.provider,
    dryRun: o.dryRun,
    canary: o.canary,
    skipBuild: o.skipBuild,
    outDir: o.outDir,
    repoRoot,
  });
}

/** One line for a failed deploy: zod's readable form for bad options. */
export function deployErrorMessage(error: unknown): string {
  return error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
}
