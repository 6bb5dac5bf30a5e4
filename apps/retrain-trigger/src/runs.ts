import { NotFoundError, PreconditionFailedError, putJson, type ObjectStore } from '@mlops/storage';
import { z } from 'zod';

export const RunRecordSchema = z.object({
  run_id: z.string(),
  kind: z.enum(['performance', 'schedule', 'manual']),
  status: z.enum(['running', 'succeeded', 'failed']),
  started: z.string(),
  finished: z.string().optional(),
  reason: z.string(),
  base_version: z.string(),
  launcher: z.string(),
  job_id: z.string(),
  dataset: z.object({ key: z.string(), rows: z.number(), feedback_rows: z.number(), base_rows: z.number(), feedback_until: z.string() }),
  version: z.string().optional(),
  message: z.string().optional(),
  promote: z.string().optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

const ACTIVE = 'runs/active.json';
const runKey = (id: string) => `runs/${id}/run.json`;

/** Run records (runs/<id>/run.json) and the single-flight lock (runs/active.json, created only if absent). */
export class RunStore {
  constructor(private readonly store: ObjectStore) {}

  async list(): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (const { key } of await this.store.list('runs/')) {
      if (!key.endsWith('/run.json')) continue;
      runs.push(RunRecordSchema.parse(JSON.parse((await this.store.get(key)).body.toString('utf8'))));
    }
    return runs.sort((a, b) => (a.started < b.started ? -1 : 1));
  }

  async save(run: RunRecord): Promise<void> {
    await putJson(this.store, runKey(run.run_id), run);
  }

  /** Takes the lock for `id`; false when another run holds it. */
  async lock(id: string): Promise<boolean> {
    try {
      await this.store.putIfAbsent(ACTIVE, JSON.stringify({ run_id: id, time: new Date().toISOString() }));
      return true;
    } catch (error) {
      if (error instanceof PreconditionFailedError) return false;
      throw error;
    }
  }

  async activeId(): Promise<string | undefined> {
    try {
      return z.object({ run_id: z.string() }).parse(JSON.parse((await this.store.get(ACTIVE)).body.toString('utf8'))).run_id;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async unlock(): Promise<void> {
    await this.store.delete(ACTIVE);
  }

  /** What the training job wrote at its end (runs/<id>/result.json), whichever launcher ran it. */
  async result(id: string): Promise<{ ok: boolean; version?: string | undefined; error?: string | undefined } | undefined> {
    try {
      const body = (await this.store.get(`runs/${id}/result.json`)).body.toString('utf8');
      return z.object({ ok: z.boolean(), version: z.string().optional(), error: z.string().optional() }).parse(JSON.parse(body));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
}
