import { expect, it } from 'vitest';
import { measurementTable } from './format.ts';
import type { Measurement } from './measurement.ts';
import { lastClassifierUse, selectMeasurements } from './runner.ts';

const fake = (name: string, opts: { needs?: Measurement[]; usesClassifier?: boolean } = {}): Measurement => ({
  name,
  ...opts,
  run: async () => undefined,
  report: () => ({ rows: [] }),
});
const raw = fake('raw', { usesClassifier: true });
const predict = fake('predict', { needs: [raw], usesClassifier: true });
const peer = fake('peer', { needs: [predict], usesClassifier: true });
const http = fake('http');
const all = [raw, predict, peer, http];
const names = (selected: Measurement[]) => selected.map((m) => m.name);

it('runs every measurement in order without --only', () => {
  expect(names(selectMeasurements(all))).toEqual(['raw', 'predict', 'peer', 'http']);
});

it('adds what the named measurements need, and keeps the registry order whatever the order of --only', () => {
  expect(names(selectMeasurements(all, ['http', 'peer']))).toEqual(['raw', 'predict', 'peer', 'http']);
  expect(names(selectMeasurements(all, ['predict']))).toEqual(['raw', 'predict']);
  expect(names(selectMeasurements(all, ['http', 'http']))).toEqual(['http']);
});

it('refuses an unknown name, an empty --only, and a measurement listed before what it needs', () => {
  expect(() => selectMeasurements(all, ['raw', 'cold'])).toThrow(/unknown measurement "cold" \(known: raw, predict, peer, http\)/);
  expect(() => selectMeasurements(all, [])).toThrow(/no measurement/);
  expect(() => selectMeasurements([predict, raw])).toThrow(/"predict" needs "raw"/);
});

it('releases the shared classifier after its last user, or at once when none uses it', () => {
  expect(lastClassifierUse(all)).toBe(2);
  expect(lastClassifierUse([raw, http])).toBe(0);
  expect(lastClassifierUse([http])).toBe(-1);
});

it('prints a timed line with — for what was not measured, and a throughput-only line with blank latency cells', () => {
  const table = measurementTable([
    { name: 'timed', textsPerSecond: 1234.56, latency: { p50: 0.5, p99: 2, of: 'per pass' }, note: 'n' },
    { name: 'failed', textsPerSecond: undefined, latency: { p50: undefined, p99: undefined, of: 'per call' }, note: 'failed: x' },
    { name: 'batch', textsPerSecond: 700, note: 'b' },
  ]);
  expect(table.split('\n')).toEqual([
    '| measurement | texts/s | p50 ms | p99 ms | latency of | notes |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    '| timed | 1234.6 | 0.50 | 2.00 | per pass | n |',
    '| failed | — | — | — | per call | failed: x |',
    '| batch | 700.0 |  |  |  | b |',
  ]);
});
