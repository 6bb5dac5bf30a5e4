import type { Alert, AlertChannel } from './alert.ts';
import { alertSubject, oneLine } from './format.ts';

export interface WebhookChannelOptions {
  url: string;
  headers?: Record<string, string>;
}

/** Slack's limits: header text 150 characters, section text 3000, at most 10 fields of 2000. */
const HEADER_MAX = 150;
const SECTION_MAX = 3_000;
const FIELDS_MAX = 10;
const FIELD_MAX = 2_000;
/** Used when the channel is called without the Alerter's signal. */
const DEFAULT_TIMEOUT_MS = 10_000;

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Slack reads <…> as links and mentions and & as an entity: escape them in mrkdwn text. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

/** Slack-compatible incoming-webhook JSON (also read by Mattermost, Rocket.Chat, Google Chat's `text`). */
export function slackMessage(alert: Alert): SlackMessage {
  const subject = alertSubject(alert);
  const reasons = alert.reasons.map((reason) => `• ${oneLine(reason)}`);
  const facts = Object.entries(alert.facts ?? {});
  const details = `*${alert.kind}* · ${alert.severity} · ${alert.model}${alert.version ? `@${alert.version}` : ''} · ${alert.time}`;

  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(oneLine(alert.title), HEADER_MAX) } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(details), SECTION_MAX) } },
  ];
  if (reasons.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(reasons.join('\n')), SECTION_MAX) } });
  }
  if (facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: facts.slice(0, FIELDS_MAX).map(([key, value]) => ({
        type: 'mrkdwn',
        text: cut(escapeMrkdwn(`*${key}*\n${value}`), FIELD_MAX),
      })),
    });
  }
  // The fallback shown in notifications and by clients that ignore blocks.
  const text = escapeMrkdwn([subject, ...reasons].join('\n'));
  return { text, blocks };
}

/** Posts Slack-compatible JSON to a webhook URL. */
export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook';
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(opts: WebhookChannelOptions) {
    this.url = opts.url;
    this.headers = { 'content-type': 'application/json', ...opts.headers };
  }

  async send(alert: Alert, signal?: AbortSignal): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify(slackMessage(alert)),
      signal: signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    // Read the body either way so the connection goes back to the pool.
    const body = await response.text();
    if (!response.ok) throw new Error(`webhook answered ${response.status}: ${cut(oneLine(body), 200)}`);
  }
}
