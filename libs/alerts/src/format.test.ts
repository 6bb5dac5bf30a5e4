import { describe, expect, it } from 'vitest';
import { formatAlert } from './format.ts';
import { sampleAlert } from './testing.ts';

describe('formatAlert', () => {
  it('renders subject and plain text, the same every time', () => {
    const alert = sampleAlert();
    const rendered = formatAlert(alert);
    expect(rendered.subject).toBe('[mlops] warning sentiment@v3: Accuracy fell below the floor');
    expect(rendered.text).toBe(
      [
        '[mlops] warning sentiment@v3: Accuracy fell below the floor',
        '',
        'kind: drifting',
        'severity: warning',
        'model: sentiment',
        'version: v3',
        'time: 2025-03-01T12:00:00.000Z',
        '',
        'Why:',
        '- Accuracy on the last 412 labelled predictions is 0.71, below the 0.80 floor.',
        '- Score PSI is 0.31 (> 0.2).',
        '',
        'Facts:',
        '- accuracy: 0.71',
        '- n: 412',
        '',
      ].join('\n'),
    );
    expect(formatAlert(structuredClone(alert))).toEqual(rendered);
  });

  it('leaves out the version, reasons and facts when there are none', () => {
    const { subject, text } = formatAlert(
      sampleAlert({ version: undefined, reasons: [], facts: undefined, kind: 'retrain-started', severity: 'info', title: 'Retraining' }),
    );
    expect(subject).toBe('[mlops] info sentiment: Retraining');
    expect(text).not.toMatch(/version:|Why:|Facts:/);
  });

  it('keeps the subject on one line', () => {
    expect(formatAlert(sampleAlert({ title: 'Retrain failed:\r\n  exit\tcode 1' })).subject).toBe(
      '[mlops] warning sentiment@v3: Retrain failed: exit code 1',
    );
  });
});
