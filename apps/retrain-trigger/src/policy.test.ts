import { describe, expect, it } from 'vitest';
import { decide, type RetrainPolicy } from './policy.ts';
import type { RunRecord } from './runs.ts';

const policy: RetrainPolicy = { mode: 'performance', cooldownMinutes: 60, dailyCap: 2, minNewLabels: 100 };
const now = new Date('2026-11-24T12:00:00Z');
const run = (minutesAgo: number): RunRecord => ({
  run_id: `r${minutesAgo}`,
  kind: 'performance',
  status: 'succeeded',
  started: new Date(now.getTime() - minutesAgo * 60_000).toISOString(),
  reason: 'stale',
  base_version: 'v1',
  launcher: 'local',
  job_id: 'j',
  dataset: { key: 'k', rows: 1, feedback_rows: 1, base_rows: 0, feedback_until: now.toISOString() },
});
const ok = { kind: 'performance' as const, runs: [] as RunRecord[], activeRunId: undefined, newLabels: 500, now };

describe('retrain policy', () => {
  it('starts when nothing stands in the way', () => {
    expect(decide(ok, policy)).toEqual({ start: true });
  });

  it('never starts a second run while one is in flight', () => {
    expect(decide({ ...ok, activeRunId: 'r-1' }, policy)).toEqual({ start: false, reason: 'run r-1 is still running' });
  });

  it('waits out the cooldown after the last run', () => {
    expect(decide({ ...ok, runs: [run(30)] }, policy)).toEqual({
      start: false,
      reason: 'cooldown: the last run started 30.0 min ago (cooldown 60 min)',
    });
    expect(decide({ ...ok, runs: [run(61)] }, policy)).toEqual({ start: true });
  });

  it('caps the runs started in any 24 hours', () => {
    expect(decide({ ...ok, runs: [run(300), run(200)] }, policy)).toEqual({
      start: false,
      reason: 'daily cap: 2 runs started in the last 24 h (cap 2)',
    });
    expect(decide({ ...ok, runs: [run(1500), run(200)] }, policy)).toEqual({ start: true });
  });

  it('needs enough new labelled rows', () => {
    expect(decide({ ...ok, newLabels: 99 }, policy)).toEqual({
      start: false,
      reason: 'only 99 new labelled rows since the last successful run (need 100)',
    });
  });

  it('follows the mode: schedule triggers only in schedule mode, manual always', () => {
    expect(decide({ ...ok, kind: 'schedule' }, policy)).toEqual({
      start: false,
      reason: 'retraining is performance-based; ignoring a schedule trigger',
    });
    expect(decide({ ...ok, kind: 'schedule' }, { ...policy, mode: 'schedule' })).toEqual({ start: true });
    expect(decide(ok, { ...policy, mode: 'schedule' })).toMatchObject({ start: false });
    expect(decide({ ...ok, kind: 'manual' }, { ...policy, mode: 'schedule' })).toEqual({ start: true });
    expect(decide({ ...ok, kind: 'schedule' }, { ...policy, mode: 'both' })).toEqual({ start: true });
  });
});
