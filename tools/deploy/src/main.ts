/**
 * The deploy CLI (same code path as `nx deploy`):
 *   tsx tools/deploy/src/main.ts <function|all> --provider <name in providers/index.ts> [--dry-run] [--canary <revision>=<percent>] [--skip-build] [--out dist/deploy]
 *       [--model-mb <MiB of ONNX> | --model <model folder>]   (sizes memory and Lambda's /tmp from the model, sizing.ts)
 *   tsx tools/deploy/src/main.ts specs     (re-writes deploy/gcp/*.yaml, deploy/aws/serverless.yml and tools/deploy/schema.json)
 */
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '@mlops/config';
import { writeDeploySpecs } from './deploy.ts';
import { writeExecutorSchema } from './executor-schema.ts';
import { deployErrorMessage, deployWithOptions } from './options.ts';

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      provider: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      canary: { type: 'string' },
      'skip-build': { type: 'boolean', default: false },
      out: { type: 'string' },
      'model-mb': { type: 'string' },
      model: { type: 'string' },
    },
  });
  if (positionals[0] === 'specs') {
    for (const file of [...(await writeDeploySpecs()), await writeExecutorSchema(REPO_ROOT)]) process.stdout.write(`wrote ${file}\n`);
  } else {
    await deployWithOptions({
      function: positionals[0],
      provider: values.provider,
      dryRun: values['dry-run'],
      canary: values.canary,
      skipBuild: values['skip-build'],
      outDir: values.out,
      // A number or text zod reports as such ("abc" is NaN, which fails .positive()).
      modelMb: values['model-mb'] === undefined ? undefined : Number(values['model-mb']),
      modelDir: values.model,
    });
  }
} catch (error) {
  process.stderr.write(`deploy: ${deployErrorMessage(error)}\n`);
  process.exitCode = 1;
}
