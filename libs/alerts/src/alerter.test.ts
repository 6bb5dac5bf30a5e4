import { SNSClient } from '@aws-sdk/client-sns';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AlertChannel } from './alert.ts';
import { Alerter } from './alerter.ts';
import { SmtpChannel } from './smtp.ts';
import { SnsChannel } from './sns.ts';
import { sampleAlert, startHttpServer, startSmtpServer } from './testing.ts';
import { WebhookChannel } from './webhook.ts';

function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

const PUBLISHED = '<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>';

describe('Alerter', () => {
  it('delivers to every channel while a hung webhook times out', async () => {
    const smtp = await startSmtpServer();
    const sns = await startHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/xml' }).end(PUBLISHED));
    const hung = await startHttpServer(() => {}); // never answers
    try {
      const client = new SNSClient({
        region: 'us-east-1',
        endpoint: sns.url,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      const { logger, lines } = capturingLogger();
      const alerter = new Alerter(
        [
          new SmtpChannel({ url: `smtp://127.0.0.1:${smtp.port}`, from: 'mlops@localhost', to: ['ops@localhost'] }),
          new SnsChannel({ topicArn: 'arn:aws:sns:us-east-1:000000000000:alerts', region: 'us-east-1', client }),
          new WebhookChannel({ url: hung.url }),
        ],
        { logger, timeoutMs: 400 },
      );

      const started = performance.now();
      const deliveries = await alerter.notify(sampleAlert());
      expect(performance.now() - started).toBeLessThan(1_500);

      expect(deliveries.map(({ channel, ok }) => ({ channel, ok }))).toEqual([
        { channel: 'email', ok: true },
        { channel: 'sns', ok: true },
        { channel: 'webhook', ok: false },
      ]);
      expect(deliveries[2]?.error).toBe('timed out after 400 ms');
      expect(deliveries[2]?.ms).toBeGreaterThanOrEqual(390);
      expect(smtp.received).toHaveLength(1);
      expect(sns.requests).toHaveLength(1);
      expect(hung.requests).toHaveLength(1);

      // The alert itself at the level of its severity, then the failed delivery.
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({ level: 40, alert: sampleAlert(), channels: ['email', 'sns', 'webhook'] });
      expect(lines[1]).toMatchObject({ level: 40, channel: 'webhook', msg: 'alert not delivered to webhook: timed out after 400 ms' });
    } finally {
      await Promise.all([smtp.close(), sns.close(), hung.close()]);
    }
  });

  it('aborts the signal of a channel that overruns its time', async () => {
    let seen: AbortSignal | undefined;
    const slow: AlertChannel = {
      name: 'slow',
      send: (_alert, signal) => {
        seen = signal;
        return new Promise(() => {});
      },
    };
    const [delivery] = await new Alerter([slow], { logger: pino({ level: 'silent' }), timeoutMs: 20 }).notify(sampleAlert());
    expect(delivery).toMatchObject({ channel: 'slow', ok: false, error: 'timed out after 20 ms' });
    expect(seen?.aborted).toBe(true);
  });

  it('never throws: a channel that throws synchronously or rejects with a non-error is a failed delivery', async () => {
    const throwing: AlertChannel = {
      name: 'throwing',
      send: () => {
        throw new Error('bad config');
      },
    };
    const rejecting: AlertChannel = { name: 'rejecting', send: () => Promise.reject('nope') };
    const fine: AlertChannel = { name: 'fine', send: async () => {} };
    const deliveries = await new Alerter([throwing, rejecting, fine], { logger: pino({ level: 'silent' }) }).notify(sampleAlert());
    expect(deliveries.map(({ channel, ok, error }) => ({ channel, ok, error }))).toEqual([
      { channel: 'throwing', ok: false, error: 'bad config' },
      { channel: 'rejecting', ok: false, error: 'nope' },
      { channel: 'fine', ok: true, error: undefined },
    ]);
  });

  it('logs the alert even with no channel', async () => {
    const { logger, lines } = capturingLogger();
    expect(await new Alerter([], { logger }).notify(sampleAlert({ severity: 'critical', kind: 'rolled-back' }))).toEqual([]);
    expect(lines).toMatchObject([{ level: 50, alert: { kind: 'rolled-back' }, channels: [] }]);
  });
});
