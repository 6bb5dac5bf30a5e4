import { NotFoundError, PreconditionFailedError, putJson, randomHex, type ObjectStore } from '@mlops/storage';
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

const LockSchema = z.object({
  run_id: z.string(),
  /** When the trigger took it (ISO 8601): a lock without a run record older than the start deadline is broken. */
  time: z.string(),
  /** Makes every lock's content, and so its etag, unique. */
  nonce: z.string().optional(),
  /** Set by the sync that settles the run, so two syncs (two instances) do not settle it twice. */
  settling: z.string().optional(),
  /** A released lock: the object stays, so that the release is a conditional write (there is no conditional delete). */
  released: z.string().optional(),
});

/** The lock as read, with the etag every change of it is conditional on. */
export interface ActiveLock {
  run_id: string;
  time: string;
  settling?: string | undefined;
  etag: string;
}

/**
 * Run records (runs/<id>/run.json) and the single-flight lock (runs/active.json). The lock is taken
 * with putIfAbsent (or putIfMatch over a released one) and every later change of it (claim, release)
 * is a putIfMatch on the etag read, so no one can release or overwrite a lock newer than the one
 * they looked at.
 */
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

  /** Takes the lock for `id`; undefined when another run holds it. */
  async lock(id: string): Promise<ActiveLock | undefined> {
    const body = { run_id: id, time: new Date().toISOString(), nonce: randomHex(8) };
    const text = JSON.stringify(body);
    try {
      return { ...body, etag: (await this.store.putIfAbsent(ACTIVE, text)).etag };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
    const current = await this.read();
    // Our own write, whose answer was lost and whose retry the store refused: the lock is ours.
    if (current?.text === text) return { ...body, etag: current.etag };
    if (!current?.lock.released) return undefined; // held (or gone this instant: the caller tries again later)
    return this.write(text, current.etag, body);
  }

  /** The lock held, if any (a released one is none). */
  async active(): Promise<ActiveLock | undefined> {
    const current = await this.read();
    if (!current || current.lock.released) return undefined;
    const { run_id, time, settling } = current.lock;
    return { run_id, time, ...(settling && { settling }), etag: current.etag };
  }

  async activeId(): Promise<string | undefined> {
    return (await this.active())?.run_id;
  }

  /** Marks the lock as being settled by the caller; undefined when it changed since it was read (someone else is at it). */
  async claim(lock: ActiveLock): Promise<ActiveLock | undefined> {
    const body = { run_id: lock.run_id, time: lock.time, nonce: randomHex(8), settling: new Date().toISOString() };
    return this.write(JSON.stringify(body), lock.etag, body);
  }

  /** Releases this lock, and only this one: false when it has changed since it was read. */
  async release(lock: ActiveLock): Promise<boolean> {
    const body = { run_id: lock.run_id, time: lock.time, released: new Date().toISOString() };
    return (await this.write(JSON.stringify(body), lock.etag, body)) !== undefined;
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

  private async read(): Promise<{ lock: z.infer<typeof LockSchema>; text: string; etag: string } | undefined> {
    try {
      const { body, info } = await this.store.get(ACTIVE);
      const text = body.toString('utf8');
      return { lock: LockSchema.parse(JSON.parse(text)), text, etag: info.etag };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private async write(
    text: string,
    etag: string,
    body: { run_id: string; time: string; settling?: string },
  ): Promise<ActiveLock | undefined> {
    const written = (etag: string): ActiveLock => ({
      run_id: body.run_id,
      time: body.time,
      ...(body.settling && { settling: body.settling }),
      etag,
    });
    try {
      return written((await this.store.putIfMatch(ACTIVE, text, etag)).etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError || error instanceof NotFoundError)) throw error;
      const current = await this.read();
      return current?.text === text ? written(current.etag) : undefined; // ours, if its answer was lost
    }
  }
}
