/**
 * Input/output drift of a production window against the training reference stored with the model
 * version, decided at the window's own sample size: a fixed PSI cut-off fires most of the time on
 * unchanged data when a window holds a few hundred rows, so each statistic is compared with its null
 * distribution under resampling from the reference, and with a practical floor so that a tiny shift
 * that is merely significant at large n does not fire.
 */

import { mulberry32 } from '@mlops/data';

/** Per-row values of the reference (validation predictions) or of a production window. */
export interface DriftSample {
  /** Top-class probability of each prediction, 0..1. */
  scores: number[];
  /** Text length in characters. */
  lengths: number[];
  /** Share of [UNK] tokens per text, 0..1. */
  unkRatios: number[];
  /** Predicted label of each row. */
  labels: string[];
}

export type DriftMeasureName = 'score_psi' | 'length_psi' | 'unk_rate' | 'label_mix';

export const DRIFT_MEASURES: readonly DriftMeasureName[] = ['score_psi', 'length_psi', 'unk_rate', 'label_mix'];

export interface DriftMeasure {
  name: DriftMeasureName;
  /** The statistic on the window. */
  value: number;
  /** max(nullQuantile, floor). */
  threshold: number;
  /**
   * The (1 - alpha) quantile of the statistic over `draws` resamples from the reference, each sized to
   * stand for n window rows compared with a reference that is itself a sample (see nullSampleSize).
   */
  nullQuantile: number;
  floor: number;
  /** value > threshold. */
  drifting: boolean;
  n: number;
}

export interface DriftOptions {
  /** Default 0.01. */
  alpha?: number;
  /** Default 300. */
  draws?: number;
  /** Default 10, quantile bins from the reference. */
  bins?: number;
  /** Default 1: the same inputs always give the same report. */
  seed?: number;
  /** Defaults: score_psi 0.1, length_psi 0.1, unk_rate 0.01 (absolute increase), label_mix 0.05. */
  floors?: Partial<Record<DriftMeasureName, number>>;
  /** Default 30: below it no measure is computed. */
  minRows?: number;
}

export interface DriftReport {
  n: number;
  measures: DriftMeasure[];
  drifting: boolean;
  /** One sentence per drifting measure naming value, threshold and n. */
  reasons: string[];
  /** Why nothing was computed. */
  skipped?: string;
}

/**
 * PSI's customary "no real change" level for score and length; a 0.01 rise of the mean [UNK] share
 * (one token in a hundred); a 5-point move of the predicted-label mix.
 */
export const DEFAULT_DRIFT_FLOORS: Readonly<Record<DriftMeasureName, number>> = {
  score_psi: 0.1,
  length_psi: 0.1,
  unk_rate: 0.01,
  label_mix: 0.05,
};

/**
 * Proportions are clipped to at least this before the log ratio: an empty bin then adds a large but
 * finite term (about 0.7 for a bin that holds a tenth of the reference) instead of Infinity. It is
 * below 1/n for any window under 10,000 rows, so only truly empty bins are changed, and the common
 * choice in PSI tooling, so values stay comparable with other reports. The null distribution clips the
 * same way, so the empty bins that chance leaves in windows of ~50 rows raise the threshold there
 * rather than firing alarms.
 */
export const PSI_EPSILON = 1e-4;

/** Population stability index of two vectors of per-bin proportions, each clipped to `epsilon`. */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length) {
    throw new Error(`psi needs the same bins on both sides, got ${expected.length} and ${actual.length}`);
  }
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, epsilon);
    const a = Math.max(actual[i]!, epsilon);
    // Each term is >= 0 because (a - e) and log(a / e) share a sign, so clipping cannot make PSI negative.
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/**
 * Interior cut points at the reference's 1/bins, 2/bins, … quantiles, bins closed on the right
 * (a value equal to an edge belongs to the bin below it). Each cut is an observed value (inverse
 * empirical CDF), so a value repeated across several quantiles gives one edge and its whole tied block
 * lands in one bin. A cut is skipped when the bin it would close holds under half a bin's share of the
 * reference (such slivers appear just past a tied block, and a bin expected to hold 0.5% of rows makes
 * PSI noisy); a cut at the maximum is never made, and a last bin that small merges into the one below.
 * Ties can therefore yield fewer than bins - 1 edges; all-equal values yield none (one bin).
 */
export function quantileEdges(values: readonly number[], bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  if (values.length === 0) throw new Error('cannot take quantiles of no values');
  assertFinite(values, 'values');
  const sorted = Float64Array.from(values).sort();
  const max = sorted[sorted.length - 1]!;
  const minRows = sorted.length / (2 * bins);
  const edges: number[] = [];
  let below = 0;
  for (let k = 1; k < bins; k++) {
    const cut = sorted[Math.ceil((k * sorted.length) / bins) - 1]!;
    if (cut >= max) break;
    const upTo = countAtMost(sorted, cut);
    if (upTo - below < minRows) continue;
    edges.push(cut);
    below = upTo;
  }
  if (edges.length > 0 && sorted.length - below < minRows) edges.pop();
  return edges;
}

/** Index of the right-closed bin holding `value`: the number of edges strictly below it. */
function binIndex(value: number, edges: ArrayLike<number>): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function countAtMost(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Share of `values` in each of the edges.length + 1 bins. */
export function binProportions(values: readonly number[], edges: readonly number[]): number[] {
  if (values.length === 0) throw new Error('cannot take proportions of no values');
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binIndex(v, edges)]!++;
  return counts.map((c) => c / values.length);
}

/** Total variation distance, ½ Σ|p − q|: the share of rows that would have to change label. */
function totalVariation(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new Error(`total variation needs the same labels on both sides, got ${p.length} and ${q.length}`);
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i]! - q[i]!);
  return sum / 2;
}

/** The (1 - alpha) quantile as an observed draw (inverse empirical CDF), never an interpolation. */
function upperQuantile(values: ArrayLike<number>, alpha: number): number {
  if (values.length === 0) throw new Error('cannot take a quantile of no values');
  const sorted = Float64Array.from(values).sort();
  // The tolerance keeps 0.99 * 300 from becoming 297.00000000000006 and skipping a rank.
  const rank = Math.ceil((1 - alpha) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Compares a production window with the training reference; deterministic for a given seed. */
export function driftReport(reference: DriftSample, window: DriftSample, opts: DriftOptions = {}): DriftReport {
  const refRows = checkSample(reference, 'reference');
  if (refRows === 0) throw new Error('the reference holds no rows: drift needs the validation predictions of the model version');
  const n = checkSample(window, 'window');
  const { alpha = 0.01, draws = 300, bins = 10, seed = 1, minRows = 30 } = opts;
  checkOptions(alpha, draws, minRows);
  if (n < minRows) {
    return {
      n,
      measures: [],
      drifting: false,
      reasons: [],
      skipped: `the window holds ${n} rows, fewer than the ${minRows} needed to judge drift`,
    };
  }
  const shape = binShape(reference, window, bins);
  const refCoded = encode(reference, shape);
  const refSummary = summarize(refCoded, shape);
  const observed = statistics(refSummary, summarize(encode(window, shape), shape));
  const nulls = nullDistribution(refCoded, refSummary, shape, nullSampleSize(n, refRows), draws, seed);
  const measures = DRIFT_MEASURES.map((name): DriftMeasure => {
    const nullQuantile = upperQuantile(nulls[name], alpha);
    const floor = opts.floors?.[name] ?? DEFAULT_DRIFT_FLOORS[name];
    const threshold = Math.max(nullQuantile, floor);
    const value = observed[name];
    return { name, value, threshold, nullQuantile, floor, drifting: value > threshold, n };
  });
  const drifting = measures.filter((m) => m.drifting);
  return { n, measures, drifting: drifting.length > 0, reasons: drifting.map((m) => reason(m, alpha, draws)) };
}

function reason(m: DriftMeasure, alpha: number, draws: number): string {
  const basis =
    m.threshold === m.floor
      ? 'its floor'
      : `the ${formatNumber(100 * (1 - alpha))}th percentile of ${draws} reference resamples of that size`;
  return `${m.name} is ${formatNumber(m.value)}, above its threshold ${formatNumber(m.threshold)} (${basis}) at n = ${m.n}.`;
}

function formatNumber(x: number): string {
  return String(Number(x.toPrecision(3)));
}

/** Bin edges and label order shared by the reference, the window and every resample. */
interface BinShape {
  scoreEdges: number[];
  lengthEdges: number[];
  labels: Map<string, number>;
}

/** A sample reduced to what the statistics need: bin and label indices per row, [UNK] shares as is. */
interface CodedRows {
  score: Int32Array;
  length: Int32Array;
  label: Int32Array;
  unk: Float64Array;
}

/** Per-bin and per-label shares and the mean [UNK] share of some rows. */
interface Summary {
  score: number[];
  length: number[];
  labels: number[];
  unkMean: number;
}

/** Labels seen in either sample count, so a label only the window predicts has share 0 in the reference. */
function binShape(reference: DriftSample, window: DriftSample, bins: number): BinShape {
  // Raw lengths, not log lengths: quantile bins depend only on order, so any monotone rescaling of
  // lengths gives the same bins and the same PSI.
  return {
    scoreEdges: quantileEdges(reference.scores, bins),
    lengthEdges: quantileEdges(reference.lengths, bins),
    labels: new Map([...new Set([...reference.labels, ...window.labels])].map((l, i) => [l, i])),
  };
}

function encode(sample: DriftSample, shape: BinShape): CodedRows {
  const rows = sample.scores.length;
  const coded = {
    score: new Int32Array(rows),
    length: new Int32Array(rows),
    label: new Int32Array(rows),
    unk: Float64Array.from(sample.unkRatios),
  };
  for (let i = 0; i < rows; i++) {
    coded.score[i] = binIndex(sample.scores[i]!, shape.scoreEdges);
    coded.length[i] = binIndex(sample.lengths[i]!, shape.lengthEdges);
    coded.label[i] = shape.labels.get(sample.labels[i]!)!;
  }
  return coded;
}

/** Shares over all rows, or over `size` rows drawn with replacement when a resample is asked for. */
function summarize(rows: CodedRows, shape: BinShape, resample?: { size: number; random: () => number }): Summary {
  const total = rows.unk.length;
  const size = resample?.size ?? total;
  const random = resample?.random;
  const score = new Float64Array(shape.scoreEdges.length + 1);
  const length = new Float64Array(shape.lengthEdges.length + 1);
  const labels = new Float64Array(shape.labels.size);
  let unk = 0;
  // The bootstrap's hot loop: drawing row indices in place rather than into an array first saves
  // about a quarter of its time.
  const { score: scoreBin, length: lengthBin, label: labelIndex, unk: unkRatio } = rows;
  for (let j = 0; j < size; j++) {
    const i = random ? Math.floor(random() * total) : j;
    score[scoreBin[i]!]!++;
    length[lengthBin[i]!]!++;
    labels[labelIndex[i]!]!++;
    unk += unkRatio[i]!;
  }
  const share = (counts: Float64Array) => Array.from(counts, (c) => c / size);
  return { score: share(score), length: share(length), labels: share(labels), unkMean: unk / size };
}

function statistics(reference: Summary, window: Summary): Record<DriftMeasureName, number> {
  return {
    score_psi: psi(reference.score, window.score),
    length_psi: psi(reference.length, window.length),
    // One-sided: fewer unknown tokens than in validation is not a problem worth an alarm.
    unk_rate: window.unkMean - reference.unkMean,
    label_mix: totalVariation(reference.labels, window.labels),
  };
}

/**
 * Resampling sizes account for the reference being a sample too (~1,250 rows): a real window differs
 * from it by its own noise plus the reference's, so the shares' variances add, 1/n + 1/N. One resample
 * of m = nN / (n + N) rows compared with the fixed reference has that same variance, 1/m, so it stands
 * for a window of n against a reference of N at the cost of one small resample per draw. A null drawn
 * at size n against the fixed reference would be too narrow: at n = 1,000 it under-states the
 * statistics' variance by almost half, and with floors off a quarter of quiet windows fired at alpha 0.01
 * in simulation (about 2% with this sizing).
 */
export function nullSampleSize(n: number, referenceRows: number): number {
  return Math.max(1, Math.round((n * referenceRows) / (n + referenceRows)));
}

function nullDistribution(
  reference: CodedRows,
  referenceSummary: Summary,
  shape: BinShape,
  size: number,
  draws: number,
  seed: number,
): Record<DriftMeasureName, Float64Array> {
  const resample = { size, random: mulberry32(seed) };
  const nulls = Object.fromEntries(DRIFT_MEASURES.map((name) => [name, new Float64Array(draws)])) as Record<DriftMeasureName, Float64Array>;
  for (let d = 0; d < draws; d++) {
    const stats = statistics(referenceSummary, summarize(reference, shape, resample));
    for (const name of DRIFT_MEASURES) nulls[name][d] = stats[name];
  }
  return nulls;
}

/** Returns the sample's row count after checking that its columns agree and hold numbers. */
function checkSample(sample: DriftSample, name: string): number {
  const rows = sample.scores.length;
  for (const column of ['lengths', 'unkRatios', 'labels'] as const) {
    if (sample[column].length !== rows) {
      throw new Error(`${name} has ${rows} scores but ${sample[column].length} ${column}: every column needs one value per row`);
    }
  }
  assertFinite(sample.scores, `${name} scores`);
  assertFinite(sample.lengths, `${name} lengths`);
  assertFinite(sample.unkRatios, `${name} unkRatios`);
  return rows;
}

function assertFinite(values: readonly number[], name: string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${name}[${bad}] is ${values[bad]}, not a finite number`);
}

function checkOptions(alpha: number, draws: number, minRows: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`draws must be a positive integer, got ${draws}`);
  if (!Number.isInteger(minRows) || minRows < 1) throw new Error(`minRows must be a positive integer, got ${minRows}`);
}
