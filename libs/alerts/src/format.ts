import type { Alert } from './alert.ts';

/** Control characters and line breaks would split a header line; tabs and runs of spaces read badly. */
export function oneLine(text: string): string {
  return text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
}

export function alertSubject(alert: Alert): string {
  const version = alert.version ? `@${alert.version}` : '';
  return oneLine(`[mlops] ${alert.severity} ${alert.model}${version}: ${alert.title}`);
}

/** Plain-text rendering (the e-mail body and the SNS message): a pure function of the alert. */
export function formatAlert(alert: Alert): { subject: string; text: string } {
  const subject = alertSubject(alert);
  const lines = [
    subject,
    '',
    `kind: ${alert.kind}`,
    `severity: ${alert.severity}`,
    `model: ${alert.model}`,
    ...(alert.version ? [`version: ${alert.version}`] : []),
    `time: ${alert.time}`,
  ];
  if (alert.reasons.length > 0) lines.push('', 'Why:', ...alert.reasons.map((reason) => `- ${reason}`));
  // Insertion order: the caller lists the facts that matter most first.
  const facts = Object.entries(alert.facts ?? {});
  if (facts.length > 0) lines.push('', 'Facts:', ...facts.map(([key, value]) => `- ${key}: ${value}`));
  return { subject, text: `${lines.join('\n')}\n` };
}
