/** Options shared by the Nx executor and the CLI, validated once at the edge. */
import { z } from 'zod';
import { FUNCTIONS, PROVIDERS } from './config.ts';

export const deployOptionsSchema = z.object({
  function: z.enum([...FUNCTIONS, 'all']),
  provider: z.enum(PROVIDERS),
  dryRun: z.boolean().default(false),
  canary: z.string().min(1).optional(),
  skipBuild: z.boolean().default(false),
  outDir: z.string().min(1).optional(),
});

export type DeployCommandOptions = z.infer<typeof deployOptionsSchema>;
