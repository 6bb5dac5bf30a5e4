import type { AddressObject } from 'mailparser';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Alerter } from './alerter.ts';
import { SmtpChannel } from './smtp.ts';
import { closedPort, sampleAlert, startSmtpServer, type TestSmtpServer } from './testing.ts';

const silent = { logger: pino({ level: 'silent' }) };

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  return [field ?? []].flat().flatMap((group) => group.value.map((address) => address.address ?? ''));
}

describe('SmtpChannel', () => {
  let server: TestSmtpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends the alert as a plain-text e-mail, logging in with the URL credentials', async () => {
    server = await startSmtpServer();
    const channel = new SmtpChannel({
      url: `smtp://alerts:s%40cret@127.0.0.1:${server.port}`,
      from: 'mlops@example.com',
      to: ['ops@example.com', 'ml@example.com'],
    });
    await channel.send(sampleAlert());

    expect(server.received).toHaveLength(1);
    const [mail] = server.received;
    expect(mail?.login).toBe('alerts:s@cret');
    expect(mail?.mailFrom).toBe('mlops@example.com');
    expect(mail?.rcptTo).toEqual(['ops@example.com', 'ml@example.com']);
    expect(addresses(mail?.parsed.from)).toEqual(['mlops@example.com']);
    expect(addresses(mail?.parsed.to)).toEqual(['ops@example.com', 'ml@example.com']);
    expect(mail?.parsed.subject).toBe('[mlops] warning sentiment@v3: Accuracy fell below the floor');
    expect(mail?.parsed.text).toContain('Accuracy on the last 412 labelled predictions is 0.71, below the 0.80 floor.');
    expect(mail?.parsed.text).toContain('- accuracy: 0.71');
  });

  it('fails fast on a refused connection, reported by the Alerter without throwing', async () => {
    const port = await closedPort();
    const alerter = new Alerter(
      [new SmtpChannel({ url: `smtp://127.0.0.1:${port}`, from: 'mlops@localhost', to: ['ops@localhost'] })],
      silent,
    );
    const [delivery] = await alerter.notify(sampleAlert());
    expect(delivery).toMatchObject({ channel: 'email', ok: false });
    expect(delivery?.error).toMatch(/ECONNREFUSED/);
    expect(delivery?.ms).toBeLessThan(1_000);
  });
});
