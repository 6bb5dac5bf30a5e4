/** The `@mlops/deploy:deploy` Nx executor: options from project.json/CLI, then the same path as the CLI. */
import type { ExecutorContext } from '@nx/devkit';
import { deployErrorMessage, deployWithOptions } from './options.ts';

export default async function deployExecutor(options: unknown, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    await deployWithOptions(options, context.root);
    return { success: true };
  } catch (error) {
    process.stderr.write(`deploy: ${deployErrorMessage(error)}\n`);
    return { success: false };
  }
}
