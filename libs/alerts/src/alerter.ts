import pino, { type Logger } from 'pino';
import type { Alert, AlertChannel, AlertDelivery } from './alert.ts';

export interface AlerterOptions {
  logger?: Logger;
  /** Per channel and alert; default 5000. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;

const LOG_LEVEL = { info: 'info', warning: 'warn', critical: 'error' } as const;

/** The message and, for fetch's "fetch failed", the cause that says what failed. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Sends each alert to every channel in parallel, each under a timeout; logs every alert and every
 * failed delivery. Alerts report on the loop, so they must never block or break it: notify() always
 * resolves, with one delivery per channel.
 */
export class Alerter {
  readonly channels: readonly AlertChannel[];
  private readonly logger: Logger;
  private readonly timeoutMs: number;

  constructor(channels: AlertChannel[], opts: AlerterOptions = {}) {
    this.channels = [...channels];
    this.logger = opts.logger ?? pino({ name: 'alerts' });
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async notify(alert: Alert): Promise<AlertDelivery[]> {
    // The log line is the record of the alert even when no channel is configured or all fail.
    this.logger[LOG_LEVEL[alert.severity]]({ alert, channels: this.channels.map((c) => c.name) }, `alert: ${alert.title}`);
    return Promise.all(this.channels.map((channel) => this.deliver(channel, alert)));
  }

  private async deliver(channel: AlertChannel, alert: Alert): Promise<AlertDelivery> {
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(`timed out after ${this.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, this.timeoutMs);
    });
    try {
      // The race settles on time even if the channel ignores the signal; .then() turns a
      // synchronous throw into a rejection.
      await Promise.race([Promise.resolve().then(() => channel.send(alert, controller.signal)), timeout]);
      return { channel: channel.name, ok: true, ms: Math.round(performance.now() - started) };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      const message = errorMessage(error);
      this.logger.warn(
        { err: error, channel: channel.name, ms, kind: alert.kind, model: alert.model },
        `alert not delivered to ${channel.name}: ${message}`,
      );
      return { channel: channel.name, ok: false, ms, error: message };
    } finally {
      clearTimeout(timer);
    }
  }
}
