// The functions of the loop on one S3 store behind the fault proxy, built in-process from their
// own factories (predict, evaluate, promote) or, for retrain-trigger, from its exported parts with
// a launcher that records launches instead of starting training jobs.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createEvaluateService } from '@mlops/evaluate';
import { copyAsAnotherVersion, createTinyModel } from '@mlops/inference/testing';
import type { JobLauncher, JobStatus, TrainingJobRequest } from '@mlops/jobs';
import { toJsonl } from '@mlops/monitoring';
import { writeLabelledPredictions } from '@mlops/monitoring/testing';
import { createPredictService } from '@mlops/predict';
import { createPromoteService } from '@mlops/promote';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { createRetrainApp, RetrainTrigger } from '@mlops/retrain-trigger';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';

export const API_KEY = 'fault-test-key';
const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

/** A launcher that records what it was asked to launch; every job stays running. */
export class RecordingLauncher implements JobLauncher {
  readonly name = 'local' as const;
  readonly launched: TrainingJobRequest[] = [];
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    this.launched.push(request);
    return { id: `job-${request.runId}`, launcher: 'local', state: 'running' };
  }
  async status(id: string): Promise<JobStatus> {
    return { id, launcher: 'local', state: 'running' };
  }
}

/** Model folders built once per test file: a tiny real model and two copies (distinct versions, same weights). */
export async function modelFolders(): Promise<string[]> {
  const first = await createTinyModel({ seed: 1 });
  return [first, await copyAsAnotherVersion(first, 'second'), await copyAsAnotherVersion(first, 'third')];
}

export interface Loop {
  uri: string;
  store: ObjectStore;
  registry: ModelRegistry;
  env: Record<string, string>;
  root: string;
}

/**
 * v1, v2 and v3 registered under `prefix`; champion moved v1 → v2 (so a rollback has somewhere to
 * go) and a canary of v3 with enough labelled traffic to be completed by a review.
 */
export async function setUpLoop(uri: string, root: string, models: string[]): Promise<Loop> {
  const store = openStore(uri);
  const registry = createRegistry(store);
  for (const dir of models) await registry.registerVersion(dir, { actor: 'fixture', reason: 'fixture' });
  await registry.setAlias('champion', 'v2', { actor: 'fixture', reason: 'fixture', expectedVersion: 'v1' });
  await registry.setAlias('challenger', 'v3', { actor: 'fixture', reason: 'canary', canaryWeight: 0.5 });
  await writeLabelledPredictions(store, 'v2', 40, 28);
  await writeLabelledPredictions(store, 'v3', 40, 36);
  await mkdir(root, { recursive: true });
  const base = join(root, 'base.jsonl');
  await writeFile(
    base,
    toJsonl(Array.from({ length: 40 }, (_, i) => ({ text: `base review ${i}`, label: i % 2 ? 'positive' : 'negative' }))),
  );
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    MLOPS_STORE: uri,
    MLOPS_CACHE_DIR: join(root, 'cache'),
    MLOPS_API_KEY: API_KEY,
    LOG_LEVEL: 'silent',
    PREDICT_POLL_SECONDS: '1',
    PREDICT_LOG_SAMPLE_RATE: '1',
    PREDICT_LOG_FLUSH_SECONDS: '3600',
    PREDICT_SESSIONS: '1',
    PROMOTE_CANARY_WEIGHT: '0.5',
    PROMOTE_CANARY_MIN_LABELS: '20',
    RETRAIN_BASE_DATA: base,
    RETRAIN_BASE_ROWS: '20',
  };
  return { uri, store, registry, env, root };
}

export function predictService(loop: Loop) {
  return createPredictService(loop.env);
}

export function evaluateApp(loop: Loop) {
  return createEvaluateService(loop.env).app;
}

export function promoteApp(loop: Loop) {
  return createPromoteService(loop.env).app;
}

/** A retrain-trigger instance (its own store client) launching through `launcher`. */
export function retrainApp(loop: Loop, launcher: JobLauncher) {
  const store = openStore(loop.uri);
  const logger = pino({ level: 'silent' });
  const trigger = new RetrainTrigger({
    store,
    registry: createRegistry(store),
    launcher,
    policy: { mode: 'both', cooldownMinutes: 0, dailyCap: 100, minNewLabels: 0 },
    training: { baseData: loop.env['RETRAIN_BASE_DATA'], baseRows: 20, hyperparameters: { epochs: 1, lr: 5e-5 }, gpu: false },
    alerter: { notify: async () => [] },
    logger,
    actor: 'retrain-trigger@fault-test',
  });
  return createRetrainApp({ trigger, caller: { apiKey: API_KEY }, logger });
}

export interface Answer {
  status: number | 'error';
  ms: number;
  body: unknown;
  json: boolean;
}

/** One call to an app (in-process), timed, its body parsed when it is JSON. */
export async function call(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  path: string,
  body?: unknown,
): Promise<Answer> {
  const start = performance.now();
  try {
    const res = await app.request(path, { method: 'POST', headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    let json = false;
    try {
      parsed = JSON.parse(text);
      json = true;
    } catch {
      // not JSON
    }
    return { status: res.status, ms: Math.round(performance.now() - start), body: parsed, json };
  } catch (error) {
    return { status: 'error', ms: Math.round(performance.now() - start), body: String(error), json: false };
  }
}

export const TRIGGER = { reason: 'fault test', kind: 'manual' } as const;
