/**
 * The deploy CLI (same code path as `nx deploy`):
 *   tsx tools/deploy/src/main.ts <function…|all> --provider <name in providers/index.ts> [--dry-run] [--skip-build] [--out dist/deploy]
 *       [--model-mb <MiB of ONNX> | --model <model folder>]   (sizes memory and Lambda's /tmp from the model, sizing.ts)
 *       [--non-interactive] [--images images.json] [--env-file settings.env] [--summary FILE]   (pipelines: tools/ci/scripts/deploy-functions.sh)
 *       [--traffic <percent>] [--tag <tag>]   (Cloud Run: the new revision's share of traffic and its tag)
 *   tsx tools/deploy/src/main.ts traffic <function> --provider cloudrun --to <tag|revision> --percent <N> [--summary FILE]
 *   tsx tools/deploy/src/main.ts specs     (re-writes deploy/gcp/*.yaml, deploy/aws/serverless.yml and tools/deploy/schema.json)
 */
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '@mlops/config';
import { writeDeploySpecs } from './deploy.ts';
import { writeExecutorSchema } from './executor-schema.ts';
import { deployErrorMessage, deployWithOptions, shiftTrafficWithOptions } from './options.ts';

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      provider: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'non-interactive': { type: 'boolean', default: false },
      images: { type: 'string' },
      'env-file': { type: 'string' },
      summary: { type: 'string' },
      traffic: { type: 'string' },
      tag: { type: 'string' },
      to: { type: 'string' },
      percent: { type: 'string' },
      'skip-build': { type: 'boolean', default: false },
      out: { type: 'string' },
      'model-mb': { type: 'string' },
      model: { type: 'string' },
    },
  });
  // A number or text zod reports as such ("abc" is NaN, which fails its checks).
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  if (positionals[0] === 'specs') {
    for (const file of [...(await writeDeploySpecs()), await writeExecutorSchema(REPO_ROOT)]) process.stdout.write(`wrote ${file}\n`);
  } else if (positionals[0] === 'traffic') {
    await shiftTrafficWithOptions({
      function: positionals[1],
      provider: values.provider,
      to: values.to,
      percent: number(values.percent),
      summary: values.summary,
    });
  } else {
    await deployWithOptions({
      function: positionals.length > 1 ? positionals : positionals[0],
      provider: values.provider,
      dryRun: values['dry-run'],
      nonInteractive: values['non-interactive'],
      images: values.images,
      envFile: values['env-file'],
      summary: values.summary,
      traffic: number(values.traffic),
      tag: values.tag,
      skipBuild: values['skip-build'],
      outDir: values.out,
      modelMb: number(values['model-mb']),
      modelDir: values.model,
    });
  }
} catch (error) {
  process.stderr.write(`deploy: ${deployErrorMessage(error)}\n`);
  process.exitCode = 1;
}
