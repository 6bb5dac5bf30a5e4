import { afterEach, describe, expect, it } from 'vitest';
import { sampleAlert, startHttpServer, type TestHttpServer } from './testing.ts';
import { slackMessage, WebhookChannel } from './webhook.ts';

describe('WebhookChannel', () => {
  let server: TestHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('posts Slack-compatible JSON: a text fallback and blocks', async () => {
    server = await startHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    const channel = new WebhookChannel({ url: `${server.url}/hooks/T000/B000/XXXX`, headers: { authorization: 'Bearer t0ken' } });
    await channel.send(sampleAlert());

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hooks/T000/B000/XXXX');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.authorization).toBe('Bearer t0ken');
    const body = JSON.parse(request?.body ?? '') as { text: string; blocks: { type: string }[] };
    expect(body.text).toContain('Accuracy fell below the floor');
    expect(body.text).toContain('Accuracy on the last 412 labelled predictions is 0.71, below the 0.80 floor.');
    // Slack reads "<" and ">" as link delimiters.
    expect(body.text).toContain('Score PSI is 0.31 (&gt; 0.2).');
    expect(body.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section']);
    expect(body).toEqual(slackMessage(sampleAlert()));
  });

  it('rejects when the webhook answers an error status', async () => {
    server = await startHttpServer((_request, response) => response.writeHead(404).end('no_service'));
    await expect(new WebhookChannel({ url: server.url }).send(sampleAlert())).rejects.toThrow('webhook answered 404: no_service');
  });

  it('keeps Slack within its block limits', () => {
    const facts = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`metric${i}`, i]));
    const message = slackMessage(sampleAlert({ title: 'x'.repeat(400), reasons: [], facts }));
    const [header, , factsBlock] = message.blocks as [{ text: { text: string } }, unknown, { fields: unknown[] }];
    expect([...header.text.text]).toHaveLength(150);
    expect(factsBlock.fields).toHaveLength(10);
  });
});
