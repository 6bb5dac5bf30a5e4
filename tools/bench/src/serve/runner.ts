/** Which measurements run, in which order, and running them once the context is prepared. */
import type { PreparedBench } from './context.ts';
import { Results, type Measurement } from './measurement.ts';

/**
 * `all` in its order, or only the named ones and what they need. Throws on an unknown name, and on a
 * measurement listed before one it needs (its result would not exist yet).
 */
export function selectMeasurements(all: readonly Measurement[], only?: readonly string[]): Measurement[] {
  all.forEach((measurement, index) => {
    for (const need of measurement.needs ?? []) {
      if (!all.slice(0, index).includes(need)) throw new Error(`"${measurement.name}" needs "${need.name}", which must come before it`);
    }
  });
  if (only === undefined) return [...all];
  if (only.length === 0) throw new Error('--only names no measurement');
  const chosen = new Set<Measurement>();
  const choose = (measurement: Measurement) => {
    if (chosen.has(measurement)) return;
    chosen.add(measurement);
    measurement.needs?.forEach(choose);
  };
  for (const name of only) {
    const measurement = all.find((m) => m.name === name);
    if (!measurement) throw new Error(`unknown measurement "${name}" (known: ${all.map((m) => m.name).join(', ')})`);
    choose(measurement);
  }
  return all.filter((m) => chosen.has(m));
}

/** The index of the last measurement that uses the shared classifier; -1 when none does. */
export function lastClassifierUse(selected: readonly Measurement[]): number {
  return selected.findLastIndex((m) => m.usesClassifier === true);
}

export interface Timing {
  name: string;
  seconds: number;
}

/**
 * Runs `selected` in order, each after the ones it needs. The shared classifier is released after
 * its last user, so that later measurements (servers in child processes) run without its sessions around.
 */
export async function runMeasurements(
  selected: readonly Measurement[],
  bench: PreparedBench,
): Promise<{ results: Results; timings: Timing[] }> {
  const { context } = bench;
  const results = new Results();
  const timings: Timing[] = [];
  const releaseAfter = lastClassifierUse(selected);
  if (releaseAfter === -1) await bench.releaseClassifier();
  for (const [index, measurement] of selected.entries()) {
    context.progress(`── ${measurement.name} (${index + 1}/${selected.length})`);
    const started = performance.now();
    results.set(measurement, await measurement.run(context, results));
    const seconds = (performance.now() - started) / 1000;
    timings.push({ name: measurement.name, seconds });
    context.progress(`── ${measurement.name} took ${seconds.toFixed(1)} s`);
    if (index === releaseAfter) await bench.releaseClassifier();
  }
  return { results, timings };
}
