export const ALERT_KINDS = [
  'stale',
  'drifting',
  'retrain-started',
  'retrain-failed',
  'retrain-finished',
  'candidate-rejected',
  'canary-started',
  'promoted',
  'rolled-back',
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  kind: AlertKind;
  severity: AlertSeverity;
  /** e.g. 'sentiment' */
  model: string;
  /** e.g. 'v3' */
  version?: string;
  /** One line: the e-mail subject, the Slack header. */
  title: string;
  /** Why, one sentence each. */
  reasons: string[];
  /** e.g. { accuracy: 0.71, n: 412 } */
  facts?: Record<string, string | number>;
  /** ISO 8601 */
  time: string;
}

export interface AlertChannel {
  readonly name: string;
  /**
   * Delivers one alert or rejects. The Alerter aborts `signal` when its timeout expires, so a
   * channel that honours it stops its request instead of leaving it running in the background.
   */
  send(alert: Alert, signal?: AbortSignal): Promise<void>;
}

export interface AlertDelivery {
  channel: string;
  ok: boolean;
  ms: number;
  error?: string;
}
