import type { EvaluationRecord } from '@mlops/monitoring';
import type { AuditEvent } from '@mlops/registry';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The audit actions worth a mark, and how each reads on the chart. */
const MARKED: Record<string, (version: string) => string> = {
  'retrain-start': (v) => `retrain from ${v}`,
  'retrain-succeeded': (v) => `${v} trained`,
  'retrain-failed': () => 'retrain failed',
  reject: (v) => `${v} rejected`,
  'canary-start': (v) => `canary ${v}`,
  promote: (v) => `${v} promoted`,
  'canary-rollback': (v) => `${v} rolled back`,
  rollback: (v) => `rollback to ${v}`,
};

/**
 * The loop over time as an SVG: live accuracy of champion and challenger per evaluation, the
 * strongest drift measure relative to its threshold (1 = alarm), and the retrain and promotion
 * events as labelled rules.
 */
export async function loopChart(evaluations: readonly EvaluationRecord[], audit: readonly AuditEvent[], title: string): Promise<string> {
  const points = evaluations.flatMap((e) => {
    const rows: { time: string; series: string; value: number }[] = [];
    for (const [role, health] of [
      ['champion', e.champion],
      ['challenger', e.challenger],
    ] as const) {
      if (health?.accuracy) rows.push({ time: e.time, series: `accuracy, ${role} (${health.version})`, value: health.accuracy.accuracy });
    }
    const ratios = (e.champion.drift?.measures ?? []).map((m) => m.value / m.threshold);
    if (ratios.length > 0)
      rows.push({ time: e.time, series: `drift / threshold, champion (${e.champion.version})`, value: Math.max(...ratios) });
    return rows;
  });
  // Events seconds apart (a run settling, then its canary starting) share one rule and one label.
  const events: { time: string; label: string }[] = [];
  for (const a of audit) {
    const mark = MARKED[a.action];
    if (!mark) continue;
    const label = mark(a.version ?? '?');
    const last = events.at(-1);
    if (last && Date.parse(a.time) - Date.parse(last.time) < 30_000) last.label += ` · ${label}`;
    else events.push({ time: a.time, label });
  }
  const accuracy = points.filter((p) => p.series.startsWith('accuracy'));
  const drift = points.filter((p) => p.series.startsWith('drift'));
  const x = { field: 'time', type: 'temporal', title: 'time (UTC)', timeUnit: 'utchoursminutesseconds' } as const;
  const color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 0 } } as const;
  const eventLayers = (labelY: number) =>
    [
      { data: { values: events }, mark: { type: 'rule', color: 'firebrick' }, encoding: { x } },
      {
        data: { values: events },
        mark: { type: 'text', angle: 270, align: 'left', dx: 4, dy: -4, color: 'firebrick', fontSize: 10 },
        encoding: { x, y: { value: labelY }, text: { field: 'label' } },
      },
    ] as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    vconcat: [
      {
        width: 900,
        height: 260,
        title: 'live accuracy of the labelled predictions in each evaluation window (0.80: the staleness threshold)',
        layer: [
          {
            data: { values: accuracy },
            mark: { type: 'line', point: true },
            encoding: { x, y: { field: 'value', type: 'quantitative', title: 'accuracy', scale: { domain: [0.5, 1] } }, color },
          },
          {
            data: { values: [{ y: 0.8 }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
            encoding: { y: { field: 'y', type: 'quantitative' } },
          },
          ...eventLayers(250),
        ],
      },
      {
        width: 900,
        height: 160,
        title: 'strongest drift measure ÷ its threshold (above 1: drifting)',
        layer: [
          {
            data: { values: drift },
            mark: { type: 'line', point: true },
            encoding: { x, y: { field: 'value', type: 'quantitative', title: 'drift ÷ threshold', scale: { type: 'log' } }, color },
          },
          {
            data: { values: [{ y: 1 }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
            encoding: { y: { field: 'y', type: 'quantitative' } },
          },
          ...eventLayers(150),
        ],
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
