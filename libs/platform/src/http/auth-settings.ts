import { z } from 'zod';
import type { CallerPolicy } from './auth.ts';

const GOOGLE_ISSUER = 'https://accounts.google.com';
const GOOGLE_JWKS = 'https://www.googleapis.com/oauth2/v3/certs';

/** A comma-separated list; unset or blank is empty. */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== ''))
    .pipe(z.array(item));

/**
 * Who may call a function's guarded routes, from the environment (set there or by the provider's
 * secret manager, never from a file in the repo). Spread into a function's settings schema:
 * `z.object({ ...callerAuthSettings, ... })`. OIDC is on when MLOPS_OIDC_AUDIENCES is set.
 */
export const callerAuthSettings = {
  /** The shared key (the embedded default, and function-to-function calls). Blank: none. */
  MLOPS_API_KEY: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : s)),
  /** Accepted `aud` values of OIDC ID tokens (for Cloud Run/Functions, the function's URL). Comma list. */
  MLOPS_OIDC_AUDIENCES: list(z.string()),
  /** Accepted `iss` values. Comma list; blank means Google's. */
  MLOPS_OIDC_ISSUERS: list(z.url()).transform((l) => (l.length === 0 ? [GOOGLE_ISSUER] : l)),
  MLOPS_OIDC_JWKS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url().default(GOOGLE_JWKS)),
  /** Only these principals (e.g. the scheduler's service account), with verified emails. Comma list; blank: any. */
  MLOPS_OIDC_EMAILS: list(z.email()),
};

export type CallerAuthSettings = { [K in keyof typeof callerAuthSettings]: z.output<(typeof callerAuthSettings)[K]> };

/** The policy `requireCaller` enforces; throws when the settings contradict each other. */
export function callerPolicyFrom(settings: CallerAuthSettings): CallerPolicy {
  const audiences = settings.MLOPS_OIDC_AUDIENCES;
  if (audiences.length === 0 && settings.MLOPS_OIDC_EMAILS.length > 0) {
    // Fail closed: a list of allowed principals with OIDC off would silently admit nobody by token.
    throw new Error('MLOPS_OIDC_EMAILS is set but MLOPS_OIDC_AUDIENCES is not: OIDC verification needs the audiences');
  }
  return {
    ...(settings.MLOPS_API_KEY !== undefined && { apiKey: settings.MLOPS_API_KEY }),
    ...(audiences.length > 0 && {
      oidc: {
        audiences,
        issuers: settings.MLOPS_OIDC_ISSUERS,
        jwksUrl: settings.MLOPS_OIDC_JWKS_URL,
        ...(settings.MLOPS_OIDC_EMAILS.length > 0 && { allowedEmails: settings.MLOPS_OIDC_EMAILS }),
      },
    }),
  };
}

/** One line for the startup log: how the guarded routes are protected. */
export function describeCallerPolicy(policy: CallerPolicy): string {
  const parts = [
    policy.apiKey && 'the API key',
    policy.oidc && `OIDC ID tokens (audiences ${policy.oidc.audiences.join(', ')}; issuers ${policy.oidc.issuers.join(', ')}${policy.oidc.allowedEmails ? `; principals ${policy.oidc.allowedEmails.join(', ')}` : ''})`,
  ].filter(Boolean);
  return parts.length === 0 ? 'open: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set' : `callers authenticated by ${parts.join(' or ')}`;
}
