import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelWatcher } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchScoreApp } from './app.ts';
import { GCS_FINALIZED } from './events.ts';
import { JSONL } from './testing.ts';

// The GCS object resource as Eventarc sends it (trimmed from the Cloud Storage JSON API docs).
const gcsObject = (name: string, bucket = 'reviews') => ({
  kind: 'storage#object',
  id: `${bucket}/${name}/1700000000000000`,
  selfLink: `https://www.googleapis.com/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
  name,
  bucket,
  generation: '1700000000000000',
  metageneration: '1',
  contentType: 'application/jsonl',
  timeCreated: '2024-05-01T10:00:00.000Z',
  updated: '2024-05-01T10:00:00.000Z',
  size: '512',
  md5Hash: 'XrY7u+Ae7tCTyyK7j1rNww==',
  etag: 'CICAgICAgP8CEAE=',
});
const ceHeaders = (name: string) => ({
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-type': GCS_FINALIZED,
  'ce-source': '//storage.googleapis.com/projects/_/buckets/reviews',
  'ce-subject': `objects/${name}`,
  'ce-id': '8412360000000001',
  'ce-time': '2024-05-01T10:00:00.000Z',
});
const structured = (name: string, type = GCS_FINALIZED) => ({
  specversion: '1.0',
  type,
  source: '//storage.googleapis.com/projects/_/buckets/reviews',
  subject: `objects/${name}`,
  id: '8412360000000002',
  time: '2024-05-01T10:00:00.000Z',
  datacontenttype: 'application/json',
  data: gcsObject(name),
});
// An S3 ObjectCreated:Put notification (the shape in the S3 docs), key URL-encoded with '+' for spaces.
const s3Event = (key: string, eventName = 'ObjectCreated:Put') => ({
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2024-05-01T10:00:00.000Z',
      eventName,
      userIdentity: { principalId: 'EXAMPLE' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'batch-score',
        bucket: { name: 'reviews', ownerIdentity: { principalId: 'EXAMPLE' }, arn: 'arn:aws:s3:::reviews' },
        object: { key, size: 512, eTag: '0123456789abcdef0123456789abcdef', sequencer: '0A1B2C3D4E5F678901' },
      },
    },
  ],
});

describe('batch-score app', () => {
  let store: ObjectStore;
  let registry: ModelRegistry;
  let watcher: ModelWatcher;
  let app: ReturnType<typeof createBatchScoreApp>;

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'batch-app-'));
    store = openStore(join(root, 'store'));
    registry = createRegistry(store);
    const logger = pino({ level: 'silent' });
    watcher = new ModelWatcher(registry, {
      alias: 'champion',
      cacheDir: join(root, 'cache'),
      pollMs: 3_600_000,
      serving: { threads: 1, maxBatchSize: 8, maxWaitMs: 0 },
      logger,
    });
    app = createBatchScoreApp({
      store,
      models: watcher,
      logger,
      inputPrefix: 'inbox/',
      outputPrefix: 'scored/',
      bucket: 'reviews',
      chunkRows: 256,
      batchSize: 8,
    });
  }, 60_000);
  afterAll(() => watcher.stop());

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const structuredHeaders = { 'content-type': 'application/cloudevents+json; charset=utf-8' };

  it('is live at once, ready only with a model, and asks for a retry (503) until then', async () => {
    await watcher.start();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.request('/readyz')).status).toBe(503);
    await store.put('inbox/early.jsonl', JSONL);
    const res = await post('/', gcsObject('inbox/early.jsonl'), ceHeaders('inbox/early.jsonl'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'no model loaded yet', request_id: expect.any(String) });

    await registry.registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
    await watcher.refresh();
    expect(await (await app.request('/readyz')).json()).toEqual({ status: 'ready', model_version: 'v1' });
  });

  it('scores on a binary-mode CloudEvent, and does nothing on its re-delivery', async () => {
    const { etag } = await store.put('inbox/binary.jsonl', JSONL);
    const res = await post('/', gcsObject('inbox/binary.jsonl'), ceHeaders('inbox/binary.jsonl'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; summary: { finished: string } };
    expect(body).toMatchObject({
      status: 'scored',
      summary: { input: 'inbox/binary.jsonl', input_etag: etag, rows: 4, bad_rows: 3, output: 'scored/binary.v1.predictions.jsonl' },
    });
    expect(await store.head('scored/binary.v1.predictions.jsonl')).toBeDefined();

    const again = await post('/', gcsObject('inbox/binary.jsonl'), ceHeaders('inbox/binary.jsonl'));
    expect(await again.json()).toEqual({ ...body, status: 'already_scored' });
  });

  it('scores on a structured-mode CloudEvent', async () => {
    await store.put('inbox/structured.jsonl', JSONL);
    const res = await post('/', structured('inbox/structured.jsonl'), structuredHeaders);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'scored', summary: { input: 'inbox/structured.jsonl', rows: 4 } });
  });

  it('scores on an S3 notification, decoding its key', async () => {
    await store.put('inbox/my reviews+1.jsonl', JSONL);
    const res = await post('/s3', s3Event('inbox/my+reviews%2B1.jsonl'), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      results: [{ status: 'scored', summary: { input: 'inbox/my reviews+1.jsonl', output: 'scored/my reviews+1.v1.predictions.jsonl' } }],
    });
    const removed = await post('/s3', s3Event('inbox/my+reviews%2B1.jsonl', 'ObjectRemoved:Delete'), {
      'content-type': 'application/json',
    });
    expect(await removed.json()).toEqual({
      results: [{ status: 'ignored', reason: 'ObjectRemoved:Delete is not an ObjectCreated event' }],
    });
  });

  it('answers 200 "ignored" for our own outputs, other prefixes and other buckets', async () => {
    const own = await post('/', gcsObject('scored/binary.v1.predictions.jsonl'), ceHeaders('scored/binary.v1.predictions.jsonl'));
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ status: 'ignored', reason: 'under the output prefix "scored/" (our own output)' });
    const outside = await post('/', structured('photos/cat.jsonl'), structuredHeaders);
    expect(await outside.json()).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/outside the input prefix/) });
    const otherBucket = await post('/', gcsObject('inbox/binary.jsonl', 'elsewhere'), ceHeaders('inbox/binary.jsonl'));
    expect(await otherBucket.json()).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/bucket "elsewhere"/) });
  });

  it.each([
    ['malformed JSON (binary)', '/', '{"name": "inbox/', ceHeaders('x'), 400, /malformed JSON body/],
    [
      'no ce-* headers',
      '/',
      gcsObject('inbox/binary.jsonl'),
      { 'content-type': 'application/json' },
      400,
      /invalid CloudEvent headers: ce-specversion must be 1.0 \(is this a CloudEvent\?\)/,
    ],
    [
      'another event type (binary)',
      '/',
      gcsObject('inbox/binary.jsonl'),
      { ...ceHeaders('x'), 'ce-type': 'google.cloud.storage.object.v1.deleted' },
      400,
      /invalid CloudEvent headers: ce-type must be google.cloud.storage.object.v1.finalized/,
    ],
    ['data without a name', '/', { bucket: 'reviews' }, ceHeaders('x'), 400, /invalid GCS object data: name/],
    [
      'another event type (structured)',
      '/',
      structured('inbox/a.jsonl', 'google.cloud.pubsub.topic.v1.messagePublished'),
      structuredHeaders,
      400,
      /invalid CloudEvent: type must be google.cloud.storage.object.v1.finalized/,
    ],
    [
      'a structured event without data',
      '/',
      { ...structured('inbox/a.jsonl'), data: undefined },
      structuredHeaders,
      400,
      /invalid CloudEvent: data/,
    ],
    ['malformed JSON (structured)', '/', '{', structuredHeaders, 400, /malformed JSON body/],
    ['a wrong content type', '/', 'name=inbox/a.jsonl', { 'content-type': 'text/plain' }, 415, /content-type must be/],
    [
      'an S3 body without records',
      '/s3',
      { Records: [] },
      { 'content-type': 'application/json' },
      400,
      /invalid S3 event notification: Records/,
    ],
    [
      'a non-S3 record',
      '/s3',
      { Records: [{ ...s3Event('a').Records[0], eventSource: 'aws:sqs' }] },
      { 'content-type': 'application/json' },
      400,
      /Records.0.eventSource/,
    ],
    [
      'a badly encoded S3 key',
      '/s3',
      s3Event('inbox/%E0%A4%A.jsonl'),
      { 'content-type': 'application/json' },
      400,
      /is not a URL-encoded key/,
    ],
    ['malformed JSON (S3)', '/s3', '[', { 'content-type': 'application/json' }, 400, /malformed JSON body/],
    ['a body over the size limit', '/s3', { pad: 'x'.repeat(1_000_001) }, { 'content-type': 'application/json' }, 413, /larger than/],
  ])('rejects %s with a JSON 4xx', async (_name, path, body, headers, status, message) => {
    const res = await post(path, body, headers);
    expect(res.status).toBe(status);
    const json = (await res.json()) as Record<string, unknown>;
    // The functions' one error body; schema failures name each problem in details.
    expect(json).toEqual({
      error: expect.stringMatching(message),
      request_id: expect.any(String),
      ...('details' in json && { details: expect.any(Array) }),
    });
  });

  it('answers unknown routes with JSON 404', async () => {
    const res = await app.request('/v1/predict');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no route GET /v1/predict', request_id: expect.any(String) });
  });
});
