import { describe, expect, it, vi } from 'vitest';
import { createTestApp } from '../test-app.ts';
import { createLambdaHandler } from './handler.ts';
import type { S3Event } from './types.ts';
import { httpApiV2Event, s3ObjectCreatedEvent, scheduledEvent } from './events.testing.ts';
import { Hono } from 'hono';

// Events copied from the AWS documentation; only path, method, body and a header are changed to
// hit the test app's routes (each test says which).

// API Gateway, payload format 1.0 (REST API proxy integration):
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
const restV1Event = {
  version: '1.0',
  resource: '/my/path',
  path: '/my/path',
  httpMethod: 'GET',
  headers: { Header1: 'value1', Header2: 'value2' },
  multiValueHeaders: { Header1: ['value1'], Header2: ['value1', 'value2'] },
  queryStringParameters: { parameter1: 'value1', parameter2: 'value' },
  multiValueQueryStringParameters: { parameter1: ['value1', 'value2'], parameter2: ['value'] },
  requestContext: {
    accountId: '123456789012',
    apiId: 'id',
    authorizer: { claims: null, scopes: null },
    domainName: 'id.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'id',
    extendedRequestId: 'request-id',
    httpMethod: 'GET',
    identity: {
      accessKey: null,
      accountId: null,
      caller: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: 'IP',
      user: null,
      userAgent: 'user-agent',
      userArn: null,
      clientCert: {
        clientCertPem: 'CERT_CONTENT',
        subjectDN: 'www.example.com',
        issuerDN: 'Example issuer',
        serialNumber: 'a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1',
        validity: { notBefore: 'May 28 12:30:02 2019 GMT', notAfter: 'Aug  5 09:36:04 2021 GMT' },
      },
    },
    path: '/my/path',
    protocol: 'HTTP/1.1',
    requestId: 'id=',
    requestTime: '04/Mar/2020:19:15:17 +0000',
    requestTimeEpoch: 1583349317135,
    resourceId: null,
    resourcePath: '/my/path',
    stage: '$default',
  },
  pathParameters: null,
  stageVariables: null,
  body: 'Hello from Lambda!',
  isBase64Encoded: false,
};

// Lambda Function URL request payload (format 2.0), with the <url-id> placeholders filled in
// (they are not a valid host name): https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
const functionUrlEvent = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/my/path',
  rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
  cookies: ['cookie1', 'cookie2'],
  headers: { header1: 'value1', header2: 'value1,value2' },
  queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'abcdefg',
    authentication: null,
    authorizer: {
      iam: {
        accessKey: 'AKIA...',
        accountId: '111122223333',
        callerId: 'AIDA...',
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: 'arn:aws:iam::111122223333:user/example-user',
        userId: 'AIDA...',
      },
    },
    domainName: 'abcdefg.lambda-url.us-west-2.on.aws',
    domainPrefix: 'abcdefg',
    http: { method: 'POST', path: '/my/path', protocol: 'HTTP/1.1', sourceIp: '123.123.123.123', userAgent: 'agent' },
    requestId: 'id',
    routeKey: '$default',
    stage: '$default',
    time: '12/Mar/2020:19:03:58 +0000',
    timeEpoch: 1583348638390,
  },
  body: 'Hello from client!',
  pathParameters: null,
  isBase64Encoded: false,
  stageVariables: null,
};

const httpV2Event = httpApiV2Event;
const s3PutEvent = s3ObjectCreatedEvent('test%2Fkey');

const json = 'application/json';
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('createLambdaHandler: API Gateway REST (payload 1.0)', () => {
  const handler = createLambdaHandler(createTestApp());

  it('answers a GET with multiValueHeaders, as REST APIs expect', async () => {
    // Changed: path /healthz, no body.
    const result = await handler({ ...restV1Event, path: '/healthz', resource: '/healthz', body: null });
    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: false });
    expect(result?.multiValueHeaders?.['content-type']).toEqual(['application/json']);
    expect(JSON.parse(result?.body ?? '')).toEqual({ status: 'ok' });
  });

  it('passes a JSON POST with repeated query parameters and returns both cookies', async () => {
    // Changed: POST /echo with a JSON body and content type.
    const result = await handler({
      ...restV1Event,
      httpMethod: 'POST',
      path: '/echo',
      headers: { ...restV1Event.headers, 'content-type': json },
      multiValueHeaders: { ...restV1Event.multiValueHeaders, 'content-type': [json] },
      body: JSON.stringify({ text: 'great movie' }),
    });
    expect(result?.statusCode).toBe(200);
    expect(result?.multiValueHeaders?.['x-app']).toEqual(['echo']);
    expect(result?.multiValueHeaders?.['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(JSON.parse(result?.body ?? '')).toMatchObject({
      body: { text: 'great movie' },
      path: '/echo',
      query: '?parameter1=value1&parameter1=value2&parameter2=value',
    });
  });

  it('refuses the documentation example as is (a GET with a body) with a 400, not a crash', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {}); // hono logs the TypeError
    const result = await handler(restV1Event);
    expect(result?.statusCode).toBe(400);
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
  });
});

describe('createLambdaHandler: API Gateway HTTP API (payload 2.0)', () => {
  const handler = createLambdaHandler(createTestApp());

  it('passes a JSON POST, request cookies and returns response cookies in `cookies`', async () => {
    // Changed: rawPath /echo, a JSON body and content type.
    const result = await handler({
      ...httpV2Event,
      rawPath: '/echo',
      headers: { ...httpV2Event.headers, 'content-type': json, 'x-request-id': 'req-9' },
      body: JSON.stringify({ texts: ['a', 'b'] }),
    });
    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: false, cookies: ['a=1; Path=/', 'b=2; Path=/'] });
    expect(result?.headers).toMatchObject({ 'content-type': json, 'x-app': 'echo' });
    expect(JSON.parse(result?.body ?? '')).toEqual({
      body: { texts: ['a', 'b'] },
      path: '/echo',
      query: '?parameter1=value1&parameter1=value2&parameter2=value',
      contentType: json,
      requestId: 'req-9',
      cookie: 'cookie1; cookie2',
    });
  });

  it('lets the app answer a malformed JSON body', async () => {
    // Changed: rawPath /echo, content type JSON; the documented body is not JSON.
    const result = await handler({ ...httpV2Event, rawPath: '/echo', headers: { 'content-type': json } });
    expect(result?.statusCode).toBe(400);
    expect(JSON.parse(result?.body ?? '')).toEqual({ error: 'malformed JSON' });
  });
});

describe('createLambdaHandler: Lambda Function URL', () => {
  const handler = createLambdaHandler(createTestApp());

  it('decodes a base64 request body', async () => {
    // Changed: rawPath /echo, a base64-encoded JSON body, as Function URLs send non-text types.
    const result = await handler({
      ...functionUrlEvent,
      rawPath: '/echo',
      headers: { 'content-type': 'application/octet-stream' },
      body: base64(JSON.stringify({ text: 'via url' })),
      isBase64Encoded: true,
    });
    expect(result?.statusCode).toBe(200);
    expect(JSON.parse(result?.body ?? '')).toMatchObject({ body: { text: 'via url' }, path: '/echo' });
  });

  it('base64-encodes a binary response body', async () => {
    // Changed: GET /bytes, no body.
    const result = await handler({
      ...functionUrlEvent,
      rawPath: '/bytes',
      rawQueryString: '',
      requestContext: { ...functionUrlEvent.requestContext, http: { ...functionUrlEvent.requestContext.http, method: 'GET' } },
      body: null,
    });
    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: true });
    expect(result?.headers?.['content-type']).toBe('application/octet-stream');
    expect([...Buffer.from(result?.body ?? '', 'base64')]).toEqual([0, 1, 2, 254, 255]);
  });
});

describe('createLambdaHandler: S3 event notifications', () => {
  it('routes an ObjectCreated:Put notification to onS3Event with the key decoded', async () => {
    const onS3Event = vi.fn(async (_event: S3Event) => {});
    const handler = createLambdaHandler(createTestApp(), { onS3Event });

    expect(await handler(s3PutEvent)).toBeUndefined();
    expect(onS3Event).toHaveBeenCalledTimes(1);
    const record = onS3Event.mock.calls[0]?.[0].Records[0];
    expect(record).toMatchObject({
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: 'example-bucket' },
        object: { key: 'test/key', size: 1024, eTag: '0123456789abcdef0123456789abcdef', sequencer: '0A1B2C3D4E5F678901' },
      },
    });
  });

  it("decodes '+' as a space and %XX escapes in keys", async () => {
    const onS3Event = vi.fn(async (_event: S3Event) => {});
    const handler = createLambdaHandler(createTestApp(), { onS3Event });
    // Changed: the key, encoded as S3 encodes "inbox/my reviews(1)+2.jsonl".
    const [record] = s3PutEvent.Records;
    const event = {
      Records: [{ ...record, s3: { ...record?.s3, object: { ...record?.s3.object, key: 'inbox/my+reviews%281%29%2B2.jsonl' } } }],
    };
    await handler(event);
    expect(onS3Event.mock.calls[0]?.[0].Records[0]?.s3.object.key).toBe('inbox/my reviews(1)+2.jsonl');
  });

  it('rejects an S3 notification when no onS3Event handler is configured', async () => {
    await expect(createLambdaHandler(createTestApp())(s3PutEvent)).rejects.toThrow(/no onS3Event handler/);
  });

  it('rejects a notification missing required fields', async () => {
    const handler = createLambdaHandler(createTestApp(), { onS3Event: async () => {} });
    await expect(handler({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put' }] })).rejects.toThrow();
  });

  it('turns an EventBridge schedule into a POST on the configured route, and fails the invocation on an error answer', async () => {
    const calls: { auth: string | undefined; tick: string | undefined; body: unknown }[] = [];
    let status = 200;
    const app = new Hono().post('/v1/evaluate', async (c) => {
      calls.push({ auth: c.req.header('authorization'), tick: c.req.header('x-mlops-scheduled-time'), body: await c.req.json() });
      return c.json({ ok: status === 200 }, status as 200);
    });
    const handler = createLambdaHandler(app, { onSchedule: { path: '/v1/evaluate', headers: { authorization: 'Bearer k' } } });
    expect(await handler(scheduledEvent)).toBeUndefined();
    // The tick's time goes along, so evaluate acts once per tick whatever EventBridge retries.
    expect(calls).toEqual([{ auth: 'Bearer k', tick: '2026-11-24T12:00:00Z', body: {} }]);
    status = 500;
    await expect(handler(scheduledEvent)).rejects.toThrow(/scheduled \/v1\/evaluate answered 500/);
    await expect(createLambdaHandler(app)(scheduledEvent)).rejects.toThrow(/no onSchedule route/);
  });

  it('rejects events it does not know', async () => {
    await expect(createLambdaHandler(createTestApp())({ source: 'aws.events' })).rejects.toThrow(/unsupported Lambda event/);
  });
});
