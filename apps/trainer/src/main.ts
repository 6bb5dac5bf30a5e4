/**
 * The training job's own entry, as a container or a local child process runs it:
 *   tsx apps/trainer/src/main.ts --data URI|store:KEY [--eval URI|none] [--base-version V] [--run-id ID]
 *     [--labels a,b,c] [--text-field F] [--label-field F] [--epochs N] …
 * (every hyperparameter of TRAINING_SETTINGS is a flag: --max-length, --weight-decay, --warmup-ratio, …).
 * Progress goes to stdout as one JSON object per line; the last line is the result or the error.
 * With --run-id the result is also written to the store (runs/<id>/result.json), where
 * retrain-trigger reads it whichever launcher ran the job.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadSettings } from '@mlops/config';
import { ConfigLabelsSchema } from '@mlops/monitoring';
import { createRegistry, hasTorchWeights, NotFineTunableError } from '@mlops/registry';
import { openStore, putJson } from '@mlops/storage';
import { z } from 'zod';
import { parseJobArgs } from './job-args.ts';
import { trainModel, type TrainProgress } from './train-job.ts';

const print = (record: object) => process.stdout.write(`${JSON.stringify(record)}\n`);
const settings = loadSettings();
const store = openStore(settings.MLOPS_STORE);
let runId: string | undefined;
const work = await mkdtemp(join(tmpdir(), 'mlops-job-'));

/** `store:KEY` names an object in the configured store (where retrain-trigger writes training sets). */
async function localData(uri: string): Promise<string> {
  if (!uri.startsWith('store:')) return uri;
  const local = join(work, basename(uri.slice('store:'.length)));
  await store.downloadFile(uri.slice('store:'.length), local);
  return local;
}

async function finish(record: Record<string, unknown>): Promise<void> {
  print({ phase: 'result', ...record });
  if (runId) await putJson(store, `runs/${runId}/result.json`, { run_id: runId, time: new Date().toISOString(), ...record });
}

try {
  const args = parseJobArgs(process.argv.slice(2));
  runId = args.runId;
  const registry = createRegistry(store, settings.MLOPS_MODEL);
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort()).once('SIGINT', () => abort.abort());
  const baseVersion = args.baseVersion;
  // Fine-tuning from a registered version: its folder comes from the store, and it becomes the parent.
  // One imported from ONNX alone has no weights to train: said before anything is downloaded.
  if (baseVersion && !hasTorchWeights(await registry.getVersion(baseVersion))) throw new NotFineTunableError(registry.model, baseVersion);
  const base = baseVersion ? await registry.downloadVersion(baseVersion, settings.MLOPS_CACHE_DIR) : args.base;
  // A registered version keeps its classes in its own order, so its head carries over.
  const labels = args.labels ?? (baseVersion ? await registry.readVersionJson(baseVersion, 'config.json', ConfigLabelsSchema) : undefined);
  let lastStep = 0;
  const result = await trainModel({
    data: await localData(args.data),
    ...(args.eval && args.eval !== 'none' ? { eval: await localData(args.eval) } : {}),
    ...(base ? { base } : {}),
    ...(baseVersion ? { parentVersion: baseVersion } : {}),
    reason: args.reason ?? `trained on ${args.data}`,
    labels,
    textField: args.textField,
    labelField: args.labelField,
    hyper: args.hyper,
    registry,
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
  await finish({ ok: true, version: result.version.version, champion: result.champion, metrics: result.metrics, timings: result.timings });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  const message = e instanceof z.ZodError ? `invalid arguments: ${z.prettifyError(e)}` : e.message;
  process.exitCode = 1;
  await finish({ ok: false, code: 'code' in e ? e.code : 'ERROR', error: message }).catch((err) =>
    print({ phase: 'result-write-failed', error: String(err) }),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
