import pino, { type Logger } from 'pino';
import { z } from 'zod';
import type { AlertChannel } from './alert.ts';
import { Alerter, DEFAULT_TIMEOUT_MS } from './alerter.ts';
import { SmtpChannel } from './smtp.ts';
import { SnsChannel } from './sns.ts';
import { WebhookChannel } from './webhook.ts';

export class AlertSettingsError extends Error {
  readonly code = 'ALERT_SETTINGS_ERROR';
}

const TOPIC_ARN = /^arn:aws(?:-[a-z]+)*:sns:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const ADDRESS = /^[^\s@<>,]+@[^\s@<>,]+$/;

/** `ALERT_X=` in a .env or compose file means "not set", not "set to nothing". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

const addressList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((address) => address.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(ADDRESS, 'expected comma-separated e-mail addresses')).min(1, 'at least one address'));

const variables = {
  ALERT_SMTP_URL: optional(z.url({ protocol: /^smtps?$/, error: 'expected an smtp:// or smtps:// URL' })),
  ALERT_EMAIL_FROM: optional(z.string()),
  ALERT_EMAIL_TO: optional(addressList),
  ALERT_SNS_TOPIC_ARN: optional(z.string().regex(TOPIC_ARN, 'expected an SNS topic ARN, arn:aws:sns:<region>:<account>:<topic>')),
  ALERT_SNS_REGION: optional(z.string().regex(REGION, 'expected an AWS region such as eu-west-1')),
  ALERT_SNS_ENDPOINT: optional(z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })),
  ALERT_WEBHOOK_URL: optional(z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })),
  ALERT_TIMEOUT_MS: optional(z.coerce.number().int().min(1).max(120_000)),
  /** Not ours (Lambda and the SDK set it): only read, as the SNS region's fallback. */
  AWS_REGION: optional(z.string()),
};
const KNOWN = Object.keys(variables).filter((key) => key.startsWith('ALERT_'));

/**
 * Every ALERT_* variable is ours: a strict object turns a misspelt one (ALERT_EMAIL_T0) into an
 * error instead of a channel that silently stays off. The URLs hold credentials (SMTP password, the
 * webhook's secret path), so no message repeats a value.
 */
const alertEnvSchema = z
  .strictObject(variables, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown setting ${issue.keys.join(', ')} (known: ${KNOWN.join(', ')})` : undefined,
  })
  .superRefine((env, ctx) => {
    const requires = (present: keyof typeof env, missing: keyof typeof env) => {
      if (env[present] !== undefined && env[missing] === undefined) {
        ctx.addIssue({ code: 'custom', path: [missing], message: `required when ${present} is set` });
      }
    };
    requires('ALERT_SMTP_URL', 'ALERT_EMAIL_TO');
    requires('ALERT_EMAIL_TO', 'ALERT_SMTP_URL');
    requires('ALERT_EMAIL_FROM', 'ALERT_SMTP_URL');
    requires('ALERT_SNS_REGION', 'ALERT_SNS_TOPIC_ARN');
    requires('ALERT_SNS_ENDPOINT', 'ALERT_SNS_TOPIC_ARN');

    const topicRegion = env.ALERT_SNS_TOPIC_ARN && TOPIC_ARN.exec(env.ALERT_SNS_TOPIC_ARN)?.[1];
    const [variable, region] = env.ALERT_SNS_REGION ? ['ALERT_SNS_REGION', env.ALERT_SNS_REGION] : ['AWS_REGION', env.AWS_REGION];
    // SNS takes a Publish only in the topic's own region, and a Lambda's AWS_REGION is the
    // function's: a mismatch would fail every alert at run time, so refuse it at startup.
    if (topicRegion && region && region !== topicRegion && !env.ALERT_SNS_ENDPOINT) {
      ctx.addIssue({
        code: 'custom',
        path: [variable],
        message: `${region} is not the region of ALERT_SNS_TOPIC_ARN (${topicRegion}); set ALERT_SNS_REGION=${topicRegion}`,
      });
    }
  })
  .transform((env): AlertSettings => {
    const settings: AlertSettings = { timeoutMs: env.ALERT_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS };
    if (env.ALERT_SMTP_URL && env.ALERT_EMAIL_TO) {
      settings.email = { url: env.ALERT_SMTP_URL, from: env.ALERT_EMAIL_FROM ?? 'mlops@localhost', to: env.ALERT_EMAIL_TO };
    }
    if (env.ALERT_SNS_TOPIC_ARN) {
      // The ARN names the topic's region: the last resort when neither variable does.
      const topicRegion = TOPIC_ARN.exec(env.ALERT_SNS_TOPIC_ARN)![1]!;
      const region = env.ALERT_SNS_REGION ?? env.AWS_REGION ?? topicRegion;
      settings.sns = { topicArn: env.ALERT_SNS_TOPIC_ARN, region, endpoint: env.ALERT_SNS_ENDPOINT };
    }
    if (env.ALERT_WEBHOOK_URL) settings.webhook = { url: env.ALERT_WEBHOOK_URL };
    return settings;
  });

export interface AlertSettings {
  email?: { url: string; from: string; to: string[] };
  sns?: { topicArn: string; region: string; endpoint?: string };
  webhook?: { url: string };
  timeoutMs: number;
}

/** Reads the ALERT_* settings (and AWS_REGION) once; throws one AlertSettingsError naming every bad variable. */
export function loadAlertSettings(env: NodeJS.ProcessEnv = process.env): AlertSettings {
  const read = Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith('ALERT_') || key === 'AWS_REGION'));
  const parsed = alertEnvSchema.safeParse(read);
  if (!parsed.success) throw new AlertSettingsError(`invalid alert settings:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function channelsOf(settings: AlertSettings): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (settings.email) channels.push(new SmtpChannel(settings.email));
  if (settings.sns) channels.push(new SnsChannel(settings.sns));
  if (settings.webhook) channels.push(new WebhookChannel(settings.webhook));
  return channels;
}

/** The channels the environment configures: none, one or several; a partial channel throws. */
export function alertChannelsFromEnv(env: NodeJS.ProcessEnv = process.env): AlertChannel[] {
  return channelsOf(loadAlertSettings(env));
}

export function createAlerter(env: NodeJS.ProcessEnv = process.env, logger?: Logger): Alerter {
  const settings = loadAlertSettings(env);
  const channels = channelsOf(settings);
  const log = logger ?? pino({ name: 'alerts' });
  log.info({ channels: channels.map((c) => c.name), timeoutMs: settings.timeoutMs }, 'alert channels');
  return new Alerter(channels, { logger: log, timeoutMs: settings.timeoutMs });
}
