import { createTransport, type Transporter } from 'nodemailer';
import SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Alert, AlertChannel } from './alert.ts';
import { formatAlert } from './format.ts';

export interface SmtpChannelOptions {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  url: string;
  from: string;
  to: string[];
}

/**
 * nodemailer waits minutes by default (2 min to connect, 10 min of socket silence); an alert to a
 * dead relay should fail within seconds. nodemailer has no abort signal, so these bound it instead.
 */
const SMTP_TIMEOUTS = { connectionTimeout: 3_000, greetingTimeout: 3_000, socketTimeout: 5_000, dnsTimeout: 3_000 };

/** E-mail over SMTP: one message per alert, plain text. */
export class SmtpChannel implements AlertChannel {
  readonly name = 'email';
  readonly from: string;
  readonly to: readonly string[];
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(opts: SmtpChannelOptions) {
    if (opts.to.length === 0) throw new Error('SmtpChannel needs at least one recipient');
    this.from = opts.from;
    this.to = [...opts.to];
    // createTransport({ url, ...timeouts }) would drop the timeouts: given a url, it keeps only
    // what it parses from it. SMTPTransport merges both.
    this.transport = createTransport(new SMTPTransport({ url: opts.url, ...SMTP_TIMEOUTS }));
  }

  async send(alert: Alert): Promise<void> {
    const { subject, text } = formatAlert(alert);
    await this.transport.sendMail({ from: this.from, to: [...this.to], subject, text });
  }
}
