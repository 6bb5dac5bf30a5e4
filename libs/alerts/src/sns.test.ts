import { SNSClient } from '@aws-sdk/client-sns';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Alerter } from './alerter.ts';
import { SnsChannel, snsSubject } from './sns.ts';
import { sampleAlert, startHttpServer, type TestHttpServer } from './testing.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:mlops-alerts';
const PUBLISHED = `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>
  <ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata>
</PublishResponse>`;
const FAILED = `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Receiver</Type><Code>InternalError</Code><Message>SNS is having a bad day</Message></Error>
  <RequestId>a1b2c3</RequestId>
</ErrorResponse>`;

function snsClient(endpoint: string): SNSClient {
  return new SNSClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
}

describe('SnsChannel', () => {
  let server: TestHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('publishes the alert to the topic with a subject, the text and routing attributes', async () => {
    server = await startHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/xml' }).end(PUBLISHED));
    const channel = new SnsChannel({ topicArn: TOPIC, region: 'eu-west-1', client: snsClient(server.url) });
    await channel.send(sampleAlert());

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/eu-west-1\/sns\/aws4_request/);
    const form = new URLSearchParams(request?.body);
    expect(form.get('Action')).toBe('Publish');
    expect(form.get('TopicArn')).toBe(TOPIC);
    expect(form.get('Subject')).toBe('[mlops] warning sentiment@v3: Accuracy fell below the floor');
    expect(form.get('Message')).toContain('- Score PSI is 0.31 (> 0.2).');
    const attributes = Object.fromEntries(
      [1, 2, 3].map((i) => [form.get(`MessageAttributes.entry.${i}.Name`), form.get(`MessageAttributes.entry.${i}.Value.StringValue`)]),
    );
    expect(attributes).toEqual({ kind: 'drifting', severity: 'warning', model: 'sentiment' });
    expect(form.has('MessageGroupId')).toBe(false);
  });

  it('gives a FIFO topic a message group and a deduplication id', async () => {
    server = await startHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/xml' }).end(PUBLISHED));
    const channel = new SnsChannel({ topicArn: `${TOPIC}.fifo`, region: 'eu-west-1', client: snsClient(server.url) });
    await channel.send(sampleAlert());
    const form = new URLSearchParams(server.requests[0]?.body);
    expect(form.get('MessageGroupId')).toBe('sentiment');
    expect(form.get('MessageDeduplicationId')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports an SNS error through the Alerter without throwing', async () => {
    server = await startHttpServer((_request, response) => response.writeHead(500, { 'content-type': 'text/xml' }).end(FAILED));
    const alerter = new Alerter([new SnsChannel({ topicArn: TOPIC, region: 'eu-west-1', client: snsClient(server.url) })], {
      logger: pino({ level: 'silent' }),
    });
    const [delivery] = await alerter.notify(sampleAlert());
    expect(delivery).toMatchObject({ channel: 'sns', ok: false, error: 'SNS is having a bad day' });
    expect(server.requests.length).toBeGreaterThan(0);
  });

  it('cuts the subject below the 100 characters AWS allows', () => {
    const subject = snsSubject(`[mlops] critical sentiment@v12: ${'drift '.repeat(30)}`);
    expect([...subject]).toHaveLength(99);
    expect(subject.endsWith('…')).toBe(true);
    expect(snsSubject('short')).toBe('short');
  });
});
