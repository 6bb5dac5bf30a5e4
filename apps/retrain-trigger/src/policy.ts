import type { RunRecord } from './runs.ts';

export interface RetrainPolicy {
  mode: 'performance' | 'schedule' | 'both';
  cooldownMinutes: number;
  dailyCap: number;
  minNewLabels: number;
}

export type TriggerKind = RunRecord['kind'];

export type Decision = { start: true } | { start: false; reason: string };

/**
 * Whether a trigger may start a run. Checked in order of what a person would want to hear first:
 * the mode, a run in flight, the cooldown, the daily cap, then enough new labels to learn from.
 */
export function decide(
  input: { kind: TriggerKind; runs: readonly RunRecord[]; activeRunId: string | undefined; newLabels: number; now: Date },
  policy: RetrainPolicy,
): Decision {
  const { kind, runs, now } = input;
  if (kind !== 'manual' && policy.mode !== 'both' && policy.mode !== kind) {
    return { start: false, reason: `retraining is ${policy.mode}-based; ignoring a ${kind} trigger` };
  }
  if (input.activeRunId !== undefined) return { start: false, reason: `run ${input.activeRunId} is still running` };
  const last = runs.at(-1);
  const minutesSince = last ? (now.getTime() - Date.parse(last.started)) / 60_000 : Infinity;
  if (minutesSince < policy.cooldownMinutes) {
    return {
      start: false,
      reason: `cooldown: the last run started ${minutesSince.toFixed(1)} min ago (cooldown ${policy.cooldownMinutes} min)`,
    };
  }
  const today = runs.filter((r) => now.getTime() - Date.parse(r.started) < 86_400_000).length;
  if (today >= policy.dailyCap)
    return { start: false, reason: `daily cap: ${today} runs started in the last 24 h (cap ${policy.dailyCap})` };
  if (input.newLabels < policy.minNewLabels) {
    return {
      start: false,
      reason: `only ${input.newLabels} new labelled rows since the last successful run (need ${policy.minNewLabels})`,
    };
  }
  return { start: true };
}
