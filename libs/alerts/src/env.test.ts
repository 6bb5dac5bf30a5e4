import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { alertChannelsFromEnv, AlertSettingsError, createAlerter, loadAlertSettings } from './env.ts';
import { SmtpChannel } from './smtp.ts';
import { SnsChannel } from './sns.ts';
import { sampleAlert, startHttpServer, startSmtpServer } from './testing.ts';
import { WebhookChannel } from './webhook.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:mlops-alerts';

function settingsError(env: NodeJS.ProcessEnv): string {
  try {
    loadAlertSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(AlertSettingsError);
    return (error as Error).message;
  }
  throw new Error('expected an AlertSettingsError');
}

describe('alertChannelsFromEnv', () => {
  it('configures no channel from an empty environment, or from variables set to nothing', () => {
    expect(alertChannelsFromEnv({})).toEqual([]);
    expect(alertChannelsFromEnv({ ALERT_SMTP_URL: '', ALERT_WEBHOOK_URL: ' ', PATH: '/usr/bin' })).toEqual([]);
  });

  it('configures all three channels', () => {
    const channels = alertChannelsFromEnv({
      ALERT_SMTP_URL: 'smtps://alerts:secret@smtp.example.com:465',
      ALERT_EMAIL_TO: 'ops@example.com, ml@example.com',
      ALERT_SNS_TOPIC_ARN: TOPIC,
      AWS_REGION: 'eu-west-1',
      ALERT_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXX',
    });
    expect(channels.map((channel) => channel.name)).toEqual(['email', 'sns', 'webhook']);
    const [email, sns, webhook] = channels;
    expect(email).toBeInstanceOf(SmtpChannel);
    expect(email).toMatchObject({ from: 'mlops@localhost', to: ['ops@example.com', 'ml@example.com'] });
    expect(sns).toBeInstanceOf(SnsChannel);
    expect(sns).toMatchObject({ topicArn: TOPIC, region: 'eu-west-1' });
    expect(webhook).toBeInstanceOf(WebhookChannel);
  });

  it('takes the SNS region from ALERT_SNS_REGION, then AWS_REGION, then the topic ARN', () => {
    const region = (env: NodeJS.ProcessEnv) => loadAlertSettings({ ALERT_SNS_TOPIC_ARN: TOPIC, ...env }).sns?.region;
    expect(region({ ALERT_SNS_REGION: 'eu-west-1', AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(region({ AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(region({})).toBe('eu-west-1');
    // LocalStack and test servers take any region.
    expect(region({ ALERT_SNS_REGION: 'us-east-1', ALERT_SNS_ENDPOINT: 'http://localhost:4566' })).toBe('us-east-1');
  });

  it('names what a partially configured channel is missing', () => {
    expect(settingsError({ ALERT_SMTP_URL: 'smtp://localhost:25' })).toMatch(
      /ALERT_EMAIL_TO[\s\S]*required when ALERT_SMTP_URL is set|required when ALERT_SMTP_URL is set[\s\S]*ALERT_EMAIL_TO/,
    );
    expect(settingsError({ ALERT_EMAIL_TO: 'ops@example.com' })).toMatch(/ALERT_SMTP_URL/);
    expect(settingsError({ ALERT_SNS_REGION: 'eu-west-1' })).toMatch(/ALERT_SNS_TOPIC_ARN/);
  });

  it('names malformed and unknown variables, all in one error, without repeating secrets', () => {
    const message = settingsError({
      ALERT_SMTP_URL: 'http://alerts:hunter2@smtp.example.com',
      ALERT_EMAIL_TO: 'ops@example.com',
      ALERT_TIMEOUT_MS: 'soon',
      ALERT_EMAIL_T0: 'ml@example.com',
    });
    expect(message).toMatch(/ALERT_SMTP_URL/);
    expect(message).toMatch(/ALERT_TIMEOUT_MS/);
    expect(message).toMatch(/ALERT_EMAIL_T0/);
    expect(message).not.toContain('hunter2');
    expect(settingsError({ ALERT_SNS_TOPIC_ARN: 'mlops-alerts' })).toMatch(/ALERT_SNS_TOPIC_ARN/);
    expect(settingsError({ ALERT_SMTP_URL: 'smtp://localhost', ALERT_EMAIL_TO: 'ops' })).toMatch(/ALERT_EMAIL_TO/);
  });

  it('refuses an SNS region other than the topic’s', () => {
    expect(settingsError({ ALERT_SNS_TOPIC_ARN: TOPIC, AWS_REGION: 'us-east-1' })).toMatch(
      /AWS_REGION[\s\S]*ALERT_SNS_REGION=eu-west-1|ALERT_SNS_REGION=eu-west-1[\s\S]*AWS_REGION/,
    );
  });
});

describe('createAlerter', () => {
  it('sends through the channels and timeout the environment configures', async () => {
    const smtp = await startSmtpServer();
    const webhook = await startHttpServer((_request, response) => response.writeHead(200).end('ok'));
    try {
      const alerter = createAlerter(
        {
          ALERT_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
          ALERT_EMAIL_FROM: 'loop@example.com',
          ALERT_EMAIL_TO: 'ops@example.com',
          ALERT_WEBHOOK_URL: webhook.url,
          ALERT_TIMEOUT_MS: '2000',
        },
        pino({ level: 'silent' }),
      );
      const deliveries = await alerter.notify(sampleAlert({ kind: 'promoted', severity: 'info', title: 'v3 promoted' }));
      expect(deliveries.map(({ channel, ok }) => ({ channel, ok }))).toEqual([
        { channel: 'email', ok: true },
        { channel: 'webhook', ok: true },
      ]);
      expect(smtp.received[0]?.parsed.subject).toBe('[mlops] info sentiment@v3: v3 promoted');
      expect(smtp.received[0]?.mailFrom).toBe('loop@example.com');
      expect(webhook.requests).toHaveLength(1);
    } finally {
      await Promise.all([smtp.close(), webhook.close()]);
    }
  });
});
