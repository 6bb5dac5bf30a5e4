/** The `@mlops/deploy:deploy` Nx executor: options from project.json/CLI, then the same path as the CLI. */
import type { ExecutorContext } from '@nx/devkit';
import { z } from 'zod';
import { deploy } from './deploy.ts';
import { deployOptionsSchema } from './options.ts';

export default async function deployExecutor(options: unknown, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    const o = deployOptionsSchema.parse(options);
    await deploy({
      target: o.function,
      provider: o.provider,
      dryRun: o.dryRun,
      canary: o.canary,
      skipBuild: o.skipBuild,
      outDir: o.outDir,
      repoRoot: context.root,
    });
    return { success: true };
  } catch (error) {
    const message = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
    process.stderr.write(`deploy: ${message}\n`);
    return { success: false };
  }
}
