import { createHash } from 'node:crypto';
import { PublishCommand, SNSClient, type MessageAttributeValue } from '@aws-sdk/client-sns';
import type { Alert, AlertChannel } from './alert.ts';
import { formatAlert } from './format.ts';

export interface SnsChannelOptions {
  topicArn: string;
  region: string;
  /** e.g. LocalStack or a test server; AWS's own endpoint when absent. */
  endpoint?: string;
  /** A client built elsewhere (credentials, retries); then region and endpoint are not used. */
  client?: SNSClient;
}

/** AWS: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters long." */
const SUBJECT_MAX = 99;
/** AWS: messages "at most 256 KB in size (262,144 bytes, not 262,144 characters)". */
const MESSAGE_MAX_BYTES = 262_144;

export function snsSubject(subject: string): string {
  const chars = [...subject]; // code points, so a cut never splits a surrogate pair
  return chars.length <= SUBJECT_MAX ? subject : `${chars.slice(0, SUBJECT_MAX - 1).join('')}…`;
}

function capBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const marker = '\n…(truncated)';
  // Decoding a cut buffer may end in U+FFFD (3 bytes) for a split character: leave room for it.
  return bytes.subarray(0, maxBytes - Buffer.byteLength(marker) - 3).toString('utf8') + marker;
}

function attribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/** Amazon SNS: one Publish per alert to a topic (e-mail, SMS, Lambda, … subscribers). */
export class SnsChannel implements AlertChannel {
  readonly name = 'sns';
  readonly topicArn: string;
  readonly region: string;
  private readonly client: SNSClient;

  constructor(opts: SnsChannelOptions) {
    this.topicArn = opts.topicArn;
    this.region = opts.region;
    this.client =
      opts.client ??
      new SNSClient({
        region: opts.region,
        endpoint: opts.endpoint,
        // The SDK's Node handler has no timeouts by default.
        requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
      });
  }

  async send(alert: Alert, signal?: AbortSignal): Promise<void> {
    const { subject, text } = formatAlert(alert);
    const fifo = this.topicArn.endsWith('.fifo');
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: snsSubject(subject),
        Message: capBytes(text, MESSAGE_MAX_BYTES),
        // Lets a subscription's filter policy route, e.g. only critical alerts to the pager.
        MessageAttributes: { kind: attribute(alert.kind), severity: attribute(alert.severity), model: attribute(alert.model) },
        // FIFO topics refuse a Publish without a group; the same alert sent twice is sent once.
        ...(fifo && {
          MessageGroupId: alert.model,
          MessageDeduplicationId: createHash('sha256').update(JSON.stringify(alert)).digest('hex'),
        }),
      }),
      { abortSignal: signal },
    );
  }
}
