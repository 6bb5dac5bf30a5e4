import type { Alert, Alerter } from '@mlops/alerts';
import { fieldOptions, loadDataset, stratifiedSplit, type DataFields } from '@mlops/data';
import { holdForInference, TextClassifier, type CachedVersion } from '@mlops/inference';
import {
  classificationMetrics,
  ConfigLabelsSchema,
  evaluateRows,
  FeedbackRecordSchema,
  feedbackTexts,
  fromTrustedCallers,
  joinFeedback,
  PredictionRecordSchema,
  readLogWindow,
  type ClassificationMetrics,
} from '@mlops/monitoring';
import { AliasConflictError, NoChampionError, type AliasRecord, type ModelRegistry } from '@mlops/registry';
import { decideOnce, type ObjectStore } from '@mlops/storage';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AlreadyChampionError, CanaryRunningError, NoEarlierChampionError } from './errors.ts';
import { describeChecks, gate, type GatePolicy, type GateResult, type ModelScores } from './gate.ts';

export interface PromoteDeps {
  store: ObjectStore;
  registry: ModelRegistry;
  cacheDir: string;
  windowMinutes: number;
  baseEval: string | undefined;
  /** Where the text and label are in `baseEval`. */
  baseFields?: DataFields;
  baseRows: number;
  /** Callers whose labels may judge a candidate or a canary (MLOPS_TRUSTED_CALLERS); empty or absent: every caller. */
  trustedCallers?: readonly string[];
  gate: GatePolicy;
  canary: { weight: number; minLabels: number; maxMinutes: number; tolerance: number };
  alerter: Pick<Alerter, 'notify'>;
  logger: Logger;
  actor: string;
}

export type CandidateDecision = {
  decision: 'canary' | 'reject';
  version: string;
  champion: string;
  reasons: string[];
  /** Absent when the candidate was not gated (its classes differ from the champion's). */
  gate?: GateResult;
};

/**
 * A newly registered candidate: measured beside the champion on the same held-out sets; a canary
 * starts only if it passes the gate. Every outcome is in the audit trail with its numbers.
 */
export async function considerCandidate(deps: PromoteDeps, version: string): Promise<CandidateDecision> {
  const { registry } = deps;
  await registry.getVersion(version); // unknown versions fail here, with the known ones listed
  const champion = await registry.getAlias('champion');
  if (!champion) throw new NoChampionError(registry.model, `nothing to compare ${version} with`);
  if (champion.version === version) throw new AlreadyChampionError(version);
  const running = await registry.getAlias('challenger');
  if (running && running.version !== version && (running.canaryWeight ?? 0) > 0) {
    throw new CanaryRunningError(running.version, version);
  }
  if (running?.version === version && (running.canaryWeight ?? 0) > 0) {
    // A retried request (the job's call timed out, a second instance): the decision stands, made once.
    return { decision: 'canary', version, champion: champion.version, reasons: [`canary of ${version} running since ${running.updated}`] };
  }

  const [labels, candidateLabels] = await Promise.all(
    [champion.version, version].map((v) => registry.readVersionJson(v, 'config.json', ConfigLabelsSchema)),
  );
  const changed = classChange(labels!, candidateLabels!);
  if (changed) {
    // Accuracy and per-class recall over different classes compare nothing, and the canary judges
    // both models in the champion's classes: a change of classes is a person's decision.
    const reason = `${version} has other classes than ${champion.version} (${changed}); promote it by hand: mlops registry set-alias champion ${version}`;
    await registry.recordEvent({ actor: deps.actor, action: 'reject', version, reason, details: { champion: champion.version } });
    await alert(deps, 'candidate-rejected', 'warning', version, `candidate ${version} was not gated against ${champion.version}`, [reason]);
    return { decision: 'reject', version, champion: champion.version, reasons: [reason] };
  }

  const holdout = await heldOutFeedback(deps);
  const base = await baseSample(deps, labels!);
  const [candidateScores, championScores] = await score(deps, [version, champion.version], holdout, base);
  const result = gate(candidateScores, championScores, deps.gate);
  const reasons = describeChecks(result.checks);
  const details = { champion: champion.version, primary: result.primary, checks: result.checks };

  if (!result.pass) {
    await registry.recordEvent({
      actor: deps.actor,
      action: 'reject',
      version,
      reason: reasons.filter((r) => r.startsWith('FAIL')).join('; '),
      details,
    });
    await alert(
      deps,
      'candidate-rejected',
      'warning',
      version,
      `candidate ${version} did not pass the gate against ${champion.version}`,
      reasons,
    );
    return { decision: 'reject', version, champion: champion.version, reasons, gate: result };
  }
  await registry.setAlias('challenger', version, {
    actor: deps.actor,
    reason: `passed the gate against ${champion.version}`,
    canaryWeight: deps.canary.weight,
    expectedVersion: running?.version ?? null,
    events: [{ actor: deps.actor, action: 'canary-start', version, reason: `canary at ${deps.canary.weight * 100}% of traffic`, details }],
  });
  await alert(deps, 'canary-started', 'info', version, `canary of ${version} at ${deps.canary.weight * 100}% of traffic`, reasons);
  return { decision: 'canary', version, champion: champion.version, reasons, gate: result };
}

/** How two versions' classes differ ("adds x; drops y"), or undefined when they are the same set (order does not matter). */
function classChange(champion: readonly string[], candidate: readonly string[]): string | undefined {
  const added = candidate.filter((label) => !champion.includes(label));
  const dropped = champion.filter((label) => !candidate.includes(label));
  const parts = [...(added.length > 0 ? [`adds ${added.join(', ')}`] : []), ...(dropped.length > 0 ? [`drops ${dropped.join(', ')}`] : [])];
  return parts.length > 0 ? parts.join('; ') : undefined;
}

export type CanaryReview = {
  decision: 'none' | 'wait' | 'complete' | 'rollback';
  reasons: string[];
  challenger?: ClassificationMetrics;
  champion?: ClassificationMetrics;
};

/**
 * The running canary, judged on the labelled traffic each model served since it started: completed
 * when the challenger is at least as accurate (within the tolerance), rolled back when it is not,
 * or when it has not gathered enough labels in time.
 */
export async function reviewCanary(deps: PromoteDeps, now = new Date()): Promise<CanaryReview> {
  const { registry } = deps;
  const challenger = await registry.getAlias('challenger');
  const champion = await registry.getAlias('champion');
  if (!challenger || !champion || !(challenger.canaryWeight && challenger.canaryWeight > 0))
    return { decision: 'none', reasons: ['no canary is running'] };
  if (challenger.version === champion.version) {
    // A review that promoted and stopped before ending the canary: end it, and answer as it did.
    await endCanary(deps, challenger.version, 'complete', 'canary passed', {});
    return { decision: 'complete', reasons: [`${challenger.version} is already champion; its canary is ended`] };
  }

  const window = { since: new Date(challenger.updated), until: now };
  const predictions = await readLogWindow(deps.store, 'predictions', PredictionRecordSchema, window);
  const feedback = await readLogWindow(deps.store, 'feedback', FeedbackRecordSchema, window);
  const rows = joinFeedback(predictions.records, fromTrustedCallers(feedback.records, deps.trustedCallers ?? []));
  const labels = await registry.readVersionJson(champion.version, 'config.json', ConfigLabelsSchema);
  const metricsOf = (version: string) => {
    const mine = rows.filter((r) => r.version === version);
    return mine.length > 0
      ? classificationMetrics(
          mine.map((r) => r.label),
          mine.map((r) => r.predicted),
          labels,
        )
      : undefined;
  };
  const ch = metricsOf(challenger.version);
  const champ = metricsOf(champion.version);
  const minutes = (now.getTime() - window.since.getTime()) / 60_000;
  const counts = `${challenger.version} n=${ch?.n ?? 0}, ${champion.version} n=${champ?.n ?? 0}`;
  const measured = { ...(ch && { challenger: ch }), ...(champ && { champion: champ }) };

  if (!ch || !champ || ch.n < deps.canary.minLabels || champ.n < deps.canary.minLabels) {
    if (minutes < deps.canary.maxMinutes)
      return { decision: 'wait', reasons: [`${counts}: waiting for ${deps.canary.minLabels} labelled predictions each`], ...measured };
    const reason = `canary ran ${minutes.toFixed(0)} min without ${deps.canary.minLabels} labelled predictions each (${counts})`;
    return decideCanaryOnce(deps, challenger, { decision: 'rollback', reasons: [reason], ...measured }, () =>
      endCanary(deps, challenger.version, 'rollback', reason, {}),
    );
  }
  const reason = `${challenger.version} accuracy ${ch.accuracy.toFixed(3)} (n=${ch.n}) vs ${champion.version} ${champ.accuracy.toFixed(3)} (n=${champ.n}), tolerance ${deps.canary.tolerance}`;
  const details = {
    challenger: { version: challenger.version, n: ch.n, accuracy: ch.accuracy },
    champion: { version: champion.version, n: champ.n, accuracy: champ.accuracy },
  };
  const decision = ch.accuracy >= champ.accuracy - deps.canary.tolerance ? 'complete' : 'rollback';
  return decideCanaryOnce(deps, challenger, { decision, reasons: [reason], ...measured }, async () => {
    if (decision === 'complete') {
      // Compare-and-swap: a champion moved since it was read (a person's rollback) fails the promotion.
      await registry.setAlias('champion', challenger.version, {
        actor: deps.actor,
        reason: `canary passed: ${reason}`,
        expectedVersion: champion.version,
        events: [{ actor: deps.actor, action: 'promote', version: challenger.version, reason, details }],
      });
    }
    await endCanary(deps, challenger.version, decision, reason, details);
  });
}

const CanaryReviewSchema = z.object({
  decision: z.enum(['none', 'wait', 'complete', 'rollback']),
  reasons: z.array(z.string()),
  challenger: z.custom<ClassificationMetrics>().optional(),
  champion: z.custom<ClassificationMetrics>().optional(),
});

/**
 * Acts on a canary's final decision once, across instances, through a lease keyed by the
 * challenger's move: a review racing it waits, and one after it gets the same answer.
 */
async function decideCanaryOnce(deps: PromoteDeps, challenger: AliasRecord, review: CanaryReview, act: () => Promise<void>) {
  const canary = challenger.audit?.id ?? challenger.updated.replaceAll(':', '');
  const key = `decisions/${deps.registry.model}/canary/${challenger.version}-${canary}.json`;
  const once = await decideOnce(deps.store, key, { leaseMs: 10 * 60_000, schema: CanaryReviewSchema }, async () => {
    await act();
    return review;
  });
  if (once.outcome === 'busy')
    return { decision: 'wait', reasons: [`another review is deciding the canary of ${challenger.version}`] } satisfies CanaryReview;
  return once.value;
}

/** Clears the challenger (a rollback records its decision with the clear; a promotion did with the champion's move) and alerts. */
async function endCanary(
  deps: PromoteDeps,
  version: string,
  decision: 'complete' | 'rollback',
  reason: string,
  details: Record<string, unknown>,
) {
  await deps.registry.clearAlias('challenger', {
    actor: deps.actor,
    reason: `canary ${decision === 'complete' ? 'completed' : 'rolled back'}`,
    expectedVersion: version,
    ...(decision === 'rollback' && { events: [{ actor: deps.actor, action: 'canary-rollback', version, reason, details }] }),
  });
  await alert(
    deps,
    decision === 'complete' ? 'promoted' : 'rolled-back',
    decision === 'complete' ? 'info' : 'warning',
    version,
    decision === 'complete' ? `${version} is the new champion` : `canary of ${version} rolled back`,
    [reason],
  );
}

/** What a rollback did: the champion it moved from and to; `repeated` when a retry found it done. */
export type RollbackResult = { from: string | null; to: string; repeated?: true };

/**
 * Makes an earlier version champion at once, ending any canary: `to`, or the one before the current champion. `expected` is
 * the champion it rolls back from (compare-and-swap). A retry is a no-op with the first answer: a
 * rollback without a version, or to the version the last rollback made champion, repeats it
 * instead of rolling back further (name a version to go further back).
 */
export async function rollbackChampion(
  deps: Pick<PromoteDeps, 'registry' | 'alerter' | 'actor'>,
  opts: { to?: string | undefined; reason: string; expected?: string | undefined },
): Promise<RollbackResult> {
  const { registry } = deps;
  const champion = await registry.getAlias('champion');
  const current = champion?.version;
  const lastRollback = champion?.audit?.events.find((e) => e.action === 'rollback');
  if (current && lastRollback && (opts.to ?? current) === current && (opts.expected ?? lastRollback.from) === lastRollback.from) {
    return { from: lastRollback.from ?? null, to: current, repeated: true };
  }
  if (opts.expected !== undefined && opts.expected !== current)
    throw new AliasConflictError(registry.model, 'champion', opts.expected, current ?? null);
  const to = opts.to ?? (await registry.previousChampion());
  if (!to) throw new NoEarlierChampionError(current);
  await registry.getVersion(to);
  await registry.setAlias('champion', to, {
    actor: deps.actor,
    reason: `rollback: ${opts.reason}`,
    expectedVersion: current ?? null,
    events: [{ actor: deps.actor, action: 'rollback', version: to, ...(current && { from: current }), to, reason: opts.reason }],
  });
  await registry.clearAlias('challenger', { actor: deps.actor, reason: 'rollback' });
  await deps.alerter.notify({
    kind: 'rolled-back',
    severity: 'warning',
    model: registry.model,
    version: to,
    title: `champion rolled back from ${current} to ${to}`,
    reasons: [opts.reason],
    time: new Date().toISOString(),
  });
  return { from: current ?? null, to };
}

type LabelledText = { text: string; label: string };

async function heldOutFeedback(deps: PromoteDeps): Promise<LabelledText[]> {
  const until = new Date();
  const window = { since: new Date(until.getTime() - deps.windowMinutes * 60_000), until };
  const feedback = await readLogWindow(deps.store, 'feedback', FeedbackRecordSchema, window);
  return feedbackTexts(fromTrustedCallers(feedback.records, deps.trustedCallers ?? []), 'holdout').map((r) => ({
    text: r.text!,
    label: r.label,
  }));
}

/** A class-balanced sample of the base evaluation data, read with the champion's classes. */
async function baseSample(deps: PromoteDeps, labels: readonly string[]): Promise<LabelledText[]> {
  if (!deps.baseEval || deps.baseRows === 0) return [];
  const { examples } = await loadDataset(deps.baseEval, { ...fieldOptions(deps.baseFields), labels });
  const { validation } = stratifiedSplit(examples, { validationRatio: Math.min(1, deps.baseRows / examples.length), seed: 7 });
  return validation.map((e) => ({ text: e.text, label: e.label! }));
}

/**
 * Both models on the same sets; then their speed, timed in alternating rounds on the same texts and
 * taken as the median, so a busy moment on the machine does not count against one of them.
 */
async function score(
  deps: PromoteDeps,
  versions: [string, string],
  holdout: LabelledText[],
  base: LabelledText[],
): Promise<[ModelScores, ModelScores]> {
  // Held only while scoring: the promote service's cache (memory, on Cloud Run) does not keep a model per candidate.
  const held: CachedVersion[] = [];
  const classifiers: TextClassifier[] = [];
  try {
    for (const version of versions) {
      held.push(await holdForInference(deps.registry, version, deps.cacheDir));
      classifiers.push(await TextClassifier.load(held.at(-1)!.dir));
    }
    const scores = [];
    for (const classifier of classifiers) {
      const sets: ModelScores['sets'] = {};
      if (holdout.length > 0) sets.holdout = await evaluateRows(classifier, holdout);
      if (base.length > 0) sets.base = await evaluateRows(classifier, base);
      scores.push(sets);
    }
    const all = [...holdout, ...base];
    const sample = Array.from(
      { length: Math.min(64, all.length) },
      (_, i) => all[Math.floor((i * all.length) / Math.min(64, all.length))]!.text,
    );
    const times: number[][] = [[], []];
    for (let round = 0; round < 7 && sample.length > 0; round++) {
      for (const i of round % 2 ? [1, 0] : [0, 1]) {
        const start = performance.now();
        await classifiers[i]!.predict(sample);
        times[i]!.push(performance.now() - start);
      }
    }
    const msPerText = (i: number) => (sample.length > 0 ? median(times[i]!) / sample.length : 0);
    return [
      { sets: scores[0]!, msPerText: msPerText(0) },
      { sets: scores[1]!, msPerText: msPerText(1) },
    ];
  } finally {
    await Promise.all(classifiers.map((c) => c.release()));
    await Promise.all(held.map((c) => c.release()));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function alert(
  deps: Pick<PromoteDeps, 'alerter' | 'registry'>,
  kind: Alert['kind'],
  severity: Alert['severity'],
  version: string,
  title: string,
  reasons: string[],
) {
  await deps.alerter.notify({ kind, severity, model: deps.registry.model, version, title, reasons, time: new Date().toISOString() });
}
