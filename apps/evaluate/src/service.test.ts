import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvaluateService } from './service.ts';

describe('createEvaluateService: how calls to other functions authenticate', () => {
  let dir: string;
  const env = (extra: Record<string, string>) => ({ MLOPS_STORE: dir, MLOPS_CACHE_DIR: join(dir, 'cache'), LOG_LEVEL: 'silent', ...extra });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evaluate-service-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('starts in id-token mode with a function to call, and refuses contradictions at startup', () => {
    expect(() => createEvaluateService(env({ MLOPS_CALL_AUTH: 'id-token', PROMOTE_URL: 'https://promote-abc.a.run.app' }))).not.toThrow();
    expect(() => createEvaluateService(env({ MLOPS_CALL_AUTH: 'id-token' }))).toThrow(
      /MLOPS_CALL_AUTH is id-token but this function has no other function to call/,
    );
    expect(() => createEvaluateService(env({ MLOPS_CALL_AUTH: 'api-key', PROMOTE_URL: 'https://promote-abc.a.run.app' }))).toThrow(
      /MLOPS_API_KEY is not set/,
    );
    expect(() => createEvaluateService(env({ MLOPS_CALL_AUTH: 'oauth' }))).toThrow(/MLOPS_CALL_AUTH/);
  });
});
