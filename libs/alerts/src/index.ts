export { ALERT_KINDS, type Alert, type AlertChannel, type AlertDelivery, type AlertKind, type AlertSeverity } from './alert.ts';
export { Alerter, type AlerterOptions } from './alerter.ts';
export { alertChannelsFromEnv, AlertSettingsError, createAlerter, loadAlertSettings, type AlertSettings } from './env.ts';
export { formatAlert } from './format.ts';
export { SmtpChannel, type SmtpChannelOptions } from './smtp.ts';
export { SnsChannel, type SnsChannelOptions } from './sns.ts';
export { slackMessage, WebhookChannel, type SlackMessage, type WebhookChannelOptions } from './webhook.ts';
