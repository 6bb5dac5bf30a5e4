import { roundTo, type ClassificationMetrics } from '@mlops/monitoring';

/** One model measured for the gate: metrics per evaluation set, and time per text. */
export interface ModelScores {
  sets: { holdout?: ClassificationMetrics; base?: ClassificationMetrics };
  msPerText: number;
}

export interface GatePolicy {
  margin: number;
  /** How far a guard metric (per-class recall, base-data accuracy) may fall. */
  tolerance: number;
  maxLatencyRatio: number;
  minHoldout: number;
}

export interface GateCheck {
  name: string;
  candidate: number;
  champion: number;
  rule: string;
  pass: boolean;
}

export interface GateResult {
  pass: boolean;
  primary: 'holdout' | 'base';
  checks: GateCheck[];
}

/**
 * The promotion gate: better by the margin on the primary set (recent held-out feedback when there
 * is enough of it, else the base set), and not worse beyond the tolerance on any guard: per-class
 * recall on the primary set, accuracy on the base set, time per text.
 */
export function gate(candidate: ModelScores, champion: ModelScores, policy: GatePolicy): GateResult {
  const holdoutRows = champion.sets.holdout?.n ?? 0;
  const primary = holdoutRows >= policy.minHoldout ? 'holdout' : 'base';
  const cand = candidate.sets[primary];
  const champ = champion.sets[primary];
  if (!cand || !champ)
    throw new Error(`no ${primary} evaluation to decide on: configure base evaluation data or wait for held-out feedback`);
  const check = (name: string, c: number, ch: number, rule: string, pass: boolean): GateCheck => ({
    name,
    candidate: roundTo(c, 4),
    champion: roundTo(ch, 4),
    rule,
    pass,
  });

  const checks: GateCheck[] = [
    check(
      `${primary} accuracy (n=${cand.n})`,
      cand.accuracy,
      champ.accuracy,
      `≥ champion + ${policy.margin}`,
      cand.accuracy >= champ.accuracy + policy.margin,
    ),
  ];
  for (const [label, metrics] of Object.entries(cand.per_class)) {
    // A biased champion's over-predicted class has a recall its quality does not earn: the bar is
    // the class's recall or the champion's macro recall, whichever is lower.
    const bar = Math.min(champ.per_class[label]?.recall ?? 0, champ.macro_recall);
    checks.push(
      check(
        `${primary} recall of ${label}`,
        metrics.recall,
        bar,
        `≥ min(champion's, its macro recall) − ${policy.tolerance}`,
        metrics.recall >= bar - policy.tolerance,
      ),
    );
  }
  if (primary === 'holdout' && candidate.sets.base && champion.sets.base) {
    const c = candidate.sets.base.accuracy;
    const ch = champion.sets.base.accuracy;
    checks.push(check(`base accuracy (n=${candidate.sets.base.n})`, c, ch, `≥ champion − ${policy.tolerance}`, c >= ch - policy.tolerance));
  }
  checks.push(
    check(
      'ms per text',
      candidate.msPerText,
      champion.msPerText,
      `≤ champion × ${policy.maxLatencyRatio}`,
      candidate.msPerText <= champion.msPerText * policy.maxLatencyRatio,
    ),
  );
  return { pass: checks.every((c) => c.pass), primary, checks };
}

export function describeChecks(checks: readonly GateCheck[]): string[] {
  return checks.map((c) => `${c.pass ? 'pass' : 'FAIL'}: ${c.name} ${c.candidate} vs ${c.champion} (${c.rule})`);
}
