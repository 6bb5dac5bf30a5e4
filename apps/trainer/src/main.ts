/**
 * The training job's own entry, as a container or a local child process runs it:
 *   tsx apps/trainer/src/main.ts --data URI [--eval URI] [--base DIR] [--parent V] [--epochs N] …
 * Progress goes to stdout as one JSON object per line; the last line is the result or the error.
 */
import { parseArgs } from 'node:util';
import { loadSettings } from '@mlops/config';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { z } from 'zod';
import { trainModel, type TrainProgress } from './train-job.ts';

const argsSchema = z.object({
  data: z.string().min(1),
  eval: z.string().min(1).optional(),
  base: z.string().min(1).optional(),
  parent: z.string().min(1).optional(),
  reason: z.string().optional(),
  epochs: z.coerce.number().int().positive().optional(),
  'max-length': z.coerce.number().int().positive().optional(),
  lr: z.coerce.number().positive().optional(),
});

const print = (record: object) => process.stdout.write(`${JSON.stringify(record)}\n`);

try {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(argsSchema.shape).map((name) => [name, { type: 'string' as const }])),
  });
  const args = argsSchema.parse(values);
  const settings = loadSettings();
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort()).once('SIGINT', () => abort.abort());
  let lastStep = 0;
  const result = await trainModel({
    data: args.data,
    ...(args.eval ? { eval: args.eval } : {}),
    ...(args.base ? { base: args.base } : {}),
    ...(args.parent ? { parentVersion: args.parent } : {}),
    ...(args.reason ? { reason: args.reason } : {}),
    hyper: {
      ...(args.epochs ? { epochs: args.epochs } : {}),
      ...(args['max-length'] ? { maxLength: args['max-length'] } : {}),
      ...(args.lr ? { lr: args.lr } : {}),
    },
    registry: createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL),
    python: settings.MLOPS_PYTHON,
    actor: settings.MLOPS_ACTOR,
    signal: abort.signal,
    onProgress: (p: TrainProgress) => {
      // Step events are thinned to one every 5 s: a log line per step would swamp a job log.
      if (p.phase === 'core' && p.event.event === 'step') {
        if (performance.now() - lastStep < 5000 && p.event.step !== p.event.steps_total) return;
        lastStep = performance.now();
      }
      print(p.phase === 'core' ? { phase: p.phase, ...p.event } : p);
    },
  });
  print({ phase: 'result', ok: true, version: result.version.version, champion: result.champion, metrics: result.metrics, timings: result.timings });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  const message = e instanceof z.ZodError ? `invalid arguments: ${z.prettifyError(e)}` : e.message;
  print({ phase: 'result', ok: false, code: 'code' in e ? e.code : 'ERROR', error: message });
  process.exitCode = 1;
}
