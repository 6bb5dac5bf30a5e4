import { z } from 'zod';
import { SettingsError } from './settings.ts';

/** The pino level every function reads from LOG_LEVEL. */
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** A function's own settings from the environment, or one error naming every bad variable. */
export function parseSettings<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new SettingsError(`invalid ${what} settings: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
