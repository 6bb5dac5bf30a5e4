/** tools/deploy/schema.json (the executor's options for Nx), generated from deployOptionsSchema by the specs command. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonText } from '@mlops/storage';
import { z } from 'zod';
import { deployOptionsSchema } from './options.ts';

export const EXECUTOR_SCHEMA_PATH = 'tools/deploy/schema.json';

export function executorSchemaJson(): string {
  // Nx reads the options as given (input): options with defaults are optional, not required.
  const { type, properties, required } = z.toJSONSchema(deployOptionsSchema, { io: 'input' });
  return jsonText({ $schema: 'https://json-schema.org/schema', version: 2, title: 'Deploy a function', type, properties, required });
}

export async function writeExecutorSchema(repoRoot: string): Promise<string> {
  const path = join(repoRoot, EXECUTOR_SCHEMA_PATH);
  await writeFile(path, executorSchemaJson());
  return path;
}
