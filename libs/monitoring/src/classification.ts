export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  /** 95% Wilson score interval of the accuracy: honest at small n, unlike the normal approximation. */
  accuracy_ci95: [number, number];
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  per_class: Record<string, ClassMetrics>;
}

export function wilsonInterval(successes: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Accuracy plus per-class and macro precision/recall/F1 (0 where a ratio is undefined, as sklearn). */
export function classificationMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  labels: readonly string[],
): ClassificationMetrics {
  if (truth.length !== predicted.length) {
    throw new Error(`got ${truth.length} true labels but ${predicted.length} predictions`);
  }
  const counts = new Map(labels.map((l) => [l, { tp: 0, fp: 0, fn: 0 }]));
  let correct = 0;
  truth.forEach((t, i) => {
    const p = predicted[i]!;
    const truthCounts = counts.get(t);
    const predictedCounts = counts.get(p);
    if (!truthCounts || !predictedCounts) throw new Error(`label "${truthCounts ? p : t}" is not one of ${labels.join(', ')}`);
    if (t === p) {
      correct++;
      truthCounts.tp++;
    } else {
      truthCounts.fn++;
      predictedCounts.fp++;
    }
  });
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const perClass: Record<string, ClassMetrics> = {};
  for (const [label, { tp, fp, fn }] of counts) {
    const precision = ratio(tp, tp + fp);
    const recall = ratio(tp, tp + fn);
    perClass[label] = { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support: tp + fn };
  }
  const mean = (key: keyof ClassMetrics) => labels.reduce((s, l) => s + perClass[l]![key], 0) / labels.length;
  return {
    n: truth.length,
    accuracy: ratio(correct, truth.length),
    accuracy_ci95: wilsonInterval(correct, truth.length),
    macro_precision: mean('precision'),
    macro_recall: mean('recall'),
    macro_f1: mean('f1'),
    per_class: perClass,
  };
}
