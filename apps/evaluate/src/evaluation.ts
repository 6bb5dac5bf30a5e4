import type { Alert, Alerter } from '@mlops/alerts';
import type { DataFields } from '@mlops/data';
import {
  assessVersion,
  ConfigLabelsSchema,
  FeedbackRecordSchema,
  importFeedbackFiles,
  joinFeedback,
  latestEvaluation,
  PredictionRecordSchema,
  readLogWindow,
  roundTo,
  ReferenceSchema,
  summarizeHealth,
  writeEvaluation,
  EvaluationRecordSchema,
  type EvaluationRecord,
  type HealthPolicy,
  type LabelledPrediction,
  type PredictionRecord,
  type Reference,
} from '@mlops/monitoring';
import { NoChampionError, UnknownFileError, type ModelRegistry } from '@mlops/registry';
import { decideOnce, type ObjectStore, type Once } from '@mlops/storage';
import type { Logger } from 'pino';

export interface RetrainRequest {
  reason: string;
  status: 'stale' | 'drifting';
  version: string;
}

export interface EvaluatorDeps {
  store: ObjectStore;
  registry: ModelRegistry;
  windowMinutes: number;
  policy: HealthPolicy;
  feedbackPrefix: string;
  /** Where the text and label are in the files imported from `feedbackPrefix`. */
  feedbackFields?: DataFields;
  alerter: Pick<Alerter, 'notify'>;
  /** retrain-trigger, called while the champion is stale or drifting (its policy decides). */
  retrain?: (request: RetrainRequest) => Promise<unknown>;
  /** promote's canary review, called while a challenger exists. */
  reviewCanary?: () => Promise<unknown>;
  logger: Logger;
}

/**
 * One scheduled evaluation: import dropped feedback files, measure champion (and challenger) over the
 * recent window, decide healthy/stale/drifting with reasons, act (alert on a change, ask for a
 * retrain, review a canary) and store the record. A failing action is recorded, never fatal.
 */
export async function evaluateOnce(deps: EvaluatorDeps, at?: Date): Promise<EvaluationRecord> {
  const { store, registry } = deps;
  const champion = await registry.getAlias('champion');
  if (!champion) throw new NoChampionError(registry.model, 'train one first');
  const challenger = await registry.getAlias('challenger');

  const labels = await registry.readVersionJson(champion.version, 'config.json', ConfigLabelsSchema);
  const imported = await importFeedbackFiles(store, {
    prefix: deps.feedbackPrefix,
    labels,
    ...(deps.feedbackFields && { fields: deps.feedbackFields }),
  });
  const now = at ?? new Date(); // after the import, so the window holds what it just imported
  const window = { since: new Date(now.getTime() - deps.windowMinutes * 60_000), until: now };
  const predictions = await readLogWindow(store, 'predictions', PredictionRecordSchema, window);
  const feedback = await readLogWindow(store, 'feedback', FeedbackRecordSchema, window);
  const labelled = joinFeedback(predictions.records, feedback.records);

  const assess = async (version: string) =>
    assessVersion(
      {
        version,
        labels,
        predictions: predictions.records.filter((p: PredictionRecord) => p.model_version === version),
        labelled: labelled.filter((r: LabelledPrediction) => r.version === version),
        reference: await referenceOf(registry, version),
      },
      deps.policy,
    );
  const championHealth = await assess(champion.version);
  const challengerHealth = challenger && challenger.version !== champion.version ? await assess(challenger.version) : undefined;
  const status = championHealth.status;

  const record: EvaluationRecord = {
    time: now.toISOString(),
    model: registry.model,
    window: { since: window.since.toISOString(), until: window.until.toISOString() },
    status,
    reasons: championHealth.reasons,
    champion: summarizeHealth(championHealth),
    ...(challengerHealth && { challenger: summarizeHealth(challengerHealth) }),
    feedback: {
      rows: feedback.records.length,
      joined: labelled.length,
      imported_files: imported.files,
      import_errors: imported.errors.map((e) => `${e.key}: ${e.error}`),
    },
    actions: [],
  };
  const act = async (kind: string, work: () => Promise<unknown>) => {
    try {
      record.actions.push({ kind, ok: true, detail: JSON.stringify((await work()) ?? null).slice(0, 500) });
    } catch (error) {
      deps.logger.error({ err: error, action: kind }, 'evaluation action failed');
      record.actions.push({ kind, ok: false, detail: (error as Error).message });
    }
  };

  const previous = await latestEvaluation(store, registry.model, now);
  // A window without traffic says nothing new: the last known state carries over.
  const lastKnown = previous && previous.champion.version === champion.version ? (previous.known_status ?? previous.status) : undefined;
  record.known_status = championHealth.predictions > 0 ? status : (lastKnown ?? status);
  if (status !== 'healthy') {
    // One alert when the state changes, not one per run while it lasts.
    if (lastKnown !== status) {
      await act('alert', () => deps.alerter.notify(alertFor(record, status)));
    }
    const retrain = deps.retrain;
    if (retrain) await act('retrain', () => retrain({ reason: championHealth.reasons.join('; '), status, version: champion.version }));
  }
  const review = deps.reviewCanary;
  if (challengerHealth && review) await act('canary-review', () => review());

  await writeEvaluation(store, record);
  deps.logger.info(
    {
      status,
      champion: champion.version,
      challenger: challenger?.version,
      predictions: predictions.records.length,
      labelled: labelled.length,
    },
    'evaluation done',
  );
  return record;
}

/** Longer than an evaluation takes: a run silent this long died, and a retry of its tick runs again. */
const TICK_LEASE_MS = 15 * 60_000;

/**
 * The evaluation of one schedule tick, run once however often the tick is delivered (Cloud
 * Scheduler's and EventBridge's retries, two instances): a repeat gets the first run's record, a
 * delivery while it runs `busy`. The lease object is kept under decisions/.
 */
export function evaluateTickOnce(deps: EvaluatorDeps, scheduledTime: string): Promise<Once<EvaluationRecord>> {
  const tick = new Date(scheduledTime).toISOString().replaceAll(':', '');
  const key = `decisions/${deps.registry.model}/evaluate/${tick}.json`;
  return decideOnce(deps.store, key, { leaseMs: TICK_LEASE_MS, schema: EvaluationRecordSchema }, () => evaluateOnce(deps));
}

/** A version's training reference, or undefined for versions trained before references existed. */
async function referenceOf(registry: ModelRegistry, version: string): Promise<Reference | undefined> {
  try {
    return await registry.readVersionJson(version, 'reference.json', ReferenceSchema);
  } catch (error) {
    if (error instanceof UnknownFileError) return undefined;
    throw error;
  }
}

function alertFor(record: EvaluationRecord, status: 'stale' | 'drifting'): Alert {
  const { champion } = record;
  return {
    kind: status,
    severity: status === 'stale' ? 'critical' : 'warning',
    model: record.model,
    version: champion.version,
    title: status === 'stale' ? 'accuracy fell below the threshold' : 'inputs or outputs drifted from the training reference',
    reasons: record.reasons,
    facts: {
      predictions: champion.predictions,
      ...(champion.accuracy && { accuracy: roundTo(champion.accuracy.accuracy, 3), labelled: champion.accuracy.n }),
      ...Object.fromEntries(
        (champion.drift?.measures ?? []).map((m) => [m.name, `${roundTo(m.value, 3)} (threshold ${roundTo(m.threshold, 3)})`]),
      ),
    },
    time: record.time,
  };
}
