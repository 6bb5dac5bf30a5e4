import type { Alert, Alerter } from '@mlops/alerts';
import type { DataFields } from '@mlops/data';
import type { JobLauncher } from '@mlops/jobs';
import { ConfigLabelsSchema } from '@mlops/monitoring';
import { hasTorchWeights, NotFineTunableError, type ModelRegistry } from '@mlops/registry';
import { randomHex, type ObjectStore } from '@mlops/storage';
import type { Logger } from 'pino';
import { buildTrainingSet, trainableFeedback } from './dataset.ts';
import { trainingJobArgs, type FineTuneHyperparameters } from './job-args.ts';
import { decide, type RetrainPolicy, type TriggerKind } from './policy.ts';
import { RunStore, type RunRecord } from './runs.ts';

export interface RetrainDeps {
  store: ObjectStore;
  registry: ModelRegistry;
  launcher: JobLauncher;
  policy: RetrainPolicy;
  training: {
    baseData: string | undefined;
    baseRows: number;
    /** Where the text and label are in `baseData`. */
    baseFields?: DataFields;
    hyperparameters: FineTuneHyperparameters;
    gpu: boolean;
    /** Callers whose labels may train (MLOPS_TRUSTED_CALLERS); empty or absent: every caller. */
    trustedCallers?: readonly string[];
  };
  alerter: Pick<Alerter, 'notify'>;
  /** promote, told about each registered candidate. */
  promote?: (candidate: { version: string; run_id: string }) => Promise<unknown>;
  /** Resolves when a job ends (the local launcher knows); the run is then settled at once instead of at the next call. */
  waitFor?: (jobId: string) => Promise<unknown>;
  logger: Logger;
  actor: string;
  /**
   * How long the lock may stand without a run record (its trigger building the training set and
   * launching the job), or with an unfinished settle, before a sync takes its holder for dead and
   * breaks it. Longer than building a training set can take. Default 30 min.
   */
  startDeadlineMs?: number;
}

const DEFAULT_START_DEADLINE_MS = 30 * 60_000;

export type TriggerResult = { started: true; run: RunRecord } | { started: false; reason: string };

/**
 * Decides whether to retrain, builds the training set, launches the fine-tuning job from the
 * champion, and settles finished runs (registering nothing itself: the job does that).
 */
export class RetrainTrigger {
  private readonly runs: RunStore;
  private settling: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: RetrainDeps) {
    this.runs = new RunStore(deps.store);
  }

  list(): Promise<RunRecord[]> {
    return this.runs.list();
  }

  async trigger(request: { kind: TriggerKind; reason: string }, now = new Date()): Promise<TriggerResult> {
    const { registry, logger } = this.deps;
    await this.sync();
    const runs = await this.runs.list();
    const lastSuccess = runs.filter((r) => r.status === 'succeeded').at(-1);
    const feedback = (await trainableFeedback(this.deps.store, this.deps.training.trustedCallers ?? [])).records;
    const newLabels = feedback.filter((r) => !lastSuccess || r.time > lastSuccess.dataset.feedback_until).length;
    const decision = decide({ kind: request.kind, runs, activeRunId: await this.runs.activeId(), newLabels, now }, this.deps.policy);
    if (!decision.start) {
      logger.info({ reason: decision.reason, trigger: request.reason }, 'retrain not started');
      return { started: false, reason: decision.reason };
    }

    const champion = await registry.getAlias('champion');
    if (!champion) return { started: false, reason: 'no champion to fine-tune from' };
    const runId = `r-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomHex(2)}`;
    // Known from version.json alone: no job is launched only to find there are no weights to train.
    if (!hasTorchWeights(await registry.getVersion(champion.version))) {
      const refusal = new NotFineTunableError(registry.model, champion.version);
      await this.recordUnstarted(runId, request, now, champion.version, refusal.message);
      await registry.recordEvent({
        actor: this.deps.actor,
        action: 'retrain-refused',
        version: champion.version,
        reason: refusal.message,
        details: { run_id: runId },
      });
      await this.alert('retrain-failed', 'warning', champion.version, `cannot retrain ${champion.version}: it has no torch weights`, [
        refusal.message,
      ]);
      logger.warn({ run_id: runId, version: champion.version }, 'retrain refused: the champion has no torch weights');
      throw refusal;
    }
    const lock = await this.runs.lock(runId);
    if (!lock) return { started: false, reason: 'another run started a moment ago' };

    const { training } = this.deps;
    let run: RunRecord | undefined;
    try {
      const dataset = await buildTrainingSet(this.deps.store, {
        runId,
        baseData: training.baseData,
        baseRows: training.baseRows,
        ...(training.baseFields && { baseFields: training.baseFields }),
        ...(training.trustedCallers && { trustedCallers: training.trustedCallers }),
        // The champion's classes: the job fine-tunes its head, and refuses a label it lacks.
        labels: await registry.readVersionJson(champion.version, 'config.json', ConfigLabelsSchema),
      });
      const args = trainingJobArgs({
        dataKey: dataset.key,
        baseVersion: champion.version,
        runId,
        reason: `retrain ${runId}: ${request.reason}`.slice(0, 500),
        hyperparameters: training.hyperparameters,
      });
      // A sync broke the lock because building took longer than the start deadline: another run may hold it now.
      if ((await this.runs.active())?.etag !== lock.etag) {
        throw new Error(`the lock was broken while the training set was built (it took longer than ${this.startDeadlineMs / 60_000} min)`);
      }
      const job = await this.deps.launcher.launch({ runId, args, gpu: training.gpu });
      run = {
        run_id: runId,
        kind: request.kind,
        status: 'running',
        started: now.toISOString(),
        reason: request.reason,
        base_version: champion.version,
        launcher: job.launcher,
        job_id: job.id,
        dataset,
      };
      await this.runs.save(run);
    } catch (error) {
      // A run that could not start still counts for cooldown and cap: a broken launcher is not hammered.
      const message = `could not start the training job: ${(error as Error).message}`;
      try {
        await this.recordUnstarted(runId, request, now, champion.version, message);
      } finally {
        await this.runs.release(lock); // even when the store failed the record: the lock must not outlive the call
      }
      await this.alert('retrain-failed', 'critical', champion.version, 'the retraining job could not start', [message]);
      return { started: false, reason: message };
    }
    await registry.recordEvent({
      actor: this.deps.actor,
      action: 'retrain-start',
      version: champion.version,
      reason: request.reason,
      details: { run_id: runId, ...run.dataset },
    });
    await this.alert(
      'retrain-started',
      'info',
      champion.version,
      `fine-tuning ${champion.version} on ${run.dataset.rows} rows`,
      [request.reason],
      {
        run_id: runId,
        feedback_rows: run.dataset.feedback_rows,
        base_rows: run.dataset.base_rows,
      },
    );
    logger.info({ run_id: runId, job: run.job_id, dataset: run.dataset }, 'retrain started');
    void this.deps.waitFor?.(run.job_id).then(
      () => this.sync(),
      (error: unknown) => logger.error({ err: error, run_id: runId }, 'waiting for the job failed'),
    );
    return { started: true, run };
  }

  /** Settles the active run if its job has ended: records the outcome, tells promote, releases the lock. */
  sync(): Promise<RunRecord | undefined> {
    const next = this.settling.catch(() => undefined).then(() => this.settle());
    this.settling = next;
    return next;
  }

  private get startDeadlineMs(): number {
    return this.deps.startDeadlineMs ?? DEFAULT_START_DEADLINE_MS;
  }

  /** Older than the start deadline (a time from the lock). */
  private expired(time: string): boolean {
    return Date.now() - Date.parse(time) > this.startDeadlineMs;
  }

  private async settle(): Promise<RunRecord | undefined> {
    const lock = await this.runs.active();
    if (!lock) return undefined;
    const id = lock.run_id;
    const run = (await this.runs.list()).find((r) => r.run_id === id);
    // Another sync (maybe another instance) is settling it; a claim that old is from one that died.
    if (lock.settling && !this.expired(lock.settling)) return run;
    if (!run) {
      // A lock without a record: its trigger is building the training set, or died before saving.
      if (!this.expired(lock.time)) return undefined;
      const message = `its trigger stopped before saving the run: no run record ${Math.round(this.startDeadlineMs / 60_000)} min after the lock was taken at ${lock.time}`;
      if (await this.runs.release(lock)) this.deps.logger.warn({ run_id: id, lock_time: lock.time }, `released a stale lock: ${message}`);
      return undefined;
    }
    if (run.status !== 'running') {
      await this.runs.release(lock); // settled by a sync that stopped before releasing
      return undefined;
    }
    let result = await this.runs.result(id);
    if (!result) {
      const status = await this.deps.launcher.status(run.job_id).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, run_id: id }, 'cannot read the job status; will retry');
        return undefined;
      });
      if (!status || status.state === 'pending' || status.state === 'running') return run;
      result = {
        ok: false,
        error: status.state === 'failed' ? (status.message ?? 'the job failed') : 'the job ended without writing its result',
      };
    }
    // Only the sync whose claim lands settles the run: its outcome is recorded, told and audited once.
    const claimed = await this.runs.claim(lock);
    if (!claimed) return run;

    const settled: RunRecord = { ...run, finished: new Date().toISOString(), status: result.ok && result.version ? 'succeeded' : 'failed' };
    if (settled.status === 'succeeded') {
      settled.version = result.version!;
      await this.alert(
        'retrain-finished',
        'info',
        settled.version,
        `registered candidate ${settled.version} (fine-tuned from ${run.base_version})`,
        [run.reason],
        { run_id: id },
      );
      if (this.deps.promote) {
        try {
          settled.promote = JSON.stringify(await this.deps.promote({ version: settled.version, run_id: id })).slice(0, 1000);
        } catch (error) {
          settled.promote = `promote failed: ${(error as Error).message}`;
          this.deps.logger.error({ err: error, run_id: id }, 'promote call failed');
        }
      }
    } else {
      settled.message = result.error ?? 'the job reported failure';
      await this.alert('retrain-failed', 'critical', run.base_version, 'the retraining job failed', [settled.message], { run_id: id });
    }
    await this.runs.save(settled);
    await this.runs.release(claimed);
    await this.deps.registry.recordEvent({
      actor: this.deps.actor,
      action: `retrain-${settled.status}`,
      ...(settled.version && { version: settled.version }),
      reason: settled.message ?? `run ${id} registered ${settled.version}`,
      details: { run_id: id },
    });
    this.deps.logger.info({ run_id: id, status: settled.status, version: settled.version, message: settled.message }, 'retrain settled');
    return settled;
  }

  /** A run that never started, saved as failed: it counts for cooldown and cap, so it is not retried at every call. */
  private async recordUnstarted(
    runId: string,
    request: { kind: TriggerKind; reason: string },
    now: Date,
    baseVersion: string,
    message: string,
  ): Promise<void> {
    await this.runs.save({
      run_id: runId,
      kind: request.kind,
      status: 'failed',
      started: now.toISOString(),
      finished: new Date().toISOString(),
      reason: request.reason,
      base_version: baseVersion,
      launcher: this.deps.launcher.name,
      job_id: '',
      dataset: { key: '', rows: 0, feedback_rows: 0, base_rows: 0, feedback_until: new Date(0).toISOString() },
      message,
    });
  }

  private async alert(
    kind: Alert['kind'],
    severity: Alert['severity'],
    version: string,
    title: string,
    reasons: string[],
    facts: Alert['facts'] = {},
  ) {
    await this.deps.alerter.notify({
      kind,
      severity,
      model: this.deps.registry.model,
      version,
      title,
      reasons,
      facts,
      time: new Date().toISOString(),
    });
  }
}
