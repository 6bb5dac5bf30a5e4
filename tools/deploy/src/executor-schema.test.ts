import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from './config.ts';
import { EXECUTOR_SCHEMA_PATH, executorSchemaJson } from './executor-schema.ts';
import { PROVIDERS } from './providers/index.ts';

describe('tools/deploy/schema.json', () => {
  it('is the one generated from the options (regenerate with: npx tsx tools/deploy/src/main.ts specs)', async () => {
    expect(await readFile(join(REPO_ROOT, EXECUTOR_SCHEMA_PATH), 'utf8')).toBe(executorSchemaJson());
  });

  it('offers exactly the PROVIDERS table and the functions', () => {
    const schema = JSON.parse(executorSchemaJson()) as {
      properties: {
        provider: { enum: string[] };
        function: { anyOf: [{ enum: string[] }, { type: 'array'; items: { enum: string[] } }] };
      };
      required: string[];
    };
    expect(schema.properties.provider.enum).toEqual(Object.keys(PROVIDERS));
    // One function or all, or several (the pipeline deploys the affected ones in one run).
    expect(schema.properties.function.anyOf[0].enum).toEqual([...FUNCTIONS, 'all']);
    expect(schema.properties.function.anyOf[1].items.enum).toEqual([...FUNCTIONS]);
    expect(schema.required).toEqual(['function', 'provider']);
  });
});
