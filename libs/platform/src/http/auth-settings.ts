import { z } from 'zod';
import { isOpenPolicy, type CallerPolicy } from './auth.ts';
import type { FunctionTarget } from './client.ts';

const GOOGLE_ISSUER = 'https://accounts.google.com';
const GOOGLE_JWKS = 'https://www.googleapis.com/oauth2/v3/certs';

/** A comma-separated list; unset or blank is empty. */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    )
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
  /** Run with open guarded routes on a shared store too (a function on a private network, on purpose). */
  MLOPS_ALLOW_OPEN: z.stringbool().default(false),
};

/**
 * Callers whose labels may train or judge a model (retrain-trigger, promote): caller names as
 * feedback records them (`oidc:labeler@example.com`, `api-key`, `anonymous`) or prefixes ending in
 * `*` (`file:*`). Comma list; unset: every caller.
 */
export const trustedCallersSettings = { MLOPS_TRUSTED_CALLERS: list(z.string()) };

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

/** Where a function runs and what it guards, for `guardedCallerPolicy`. */
export interface GuardedRoutes {
  /** The store URI: only a local folder (`file://`) means the laptop. */
  store: string;
  /** The routes the policy guards, as `METHOD /path`; none: nothing to guard. */
  routes: readonly string[];
  logger: { info(obj: object, msg: string): void; warn(msg: string): void };
}

/**
 * The policy a function's guarded routes enforce, said at startup. Open is the embedded default on
 * a laptop; off it (any store but a local folder) a function refuses to start open unless
 * MLOPS_ALLOW_OPEN=true says it is on purpose, so a deployment is never open by accident.
 */
export function guardedCallerPolicy(settings: CallerAuthSettings, where: GuardedRoutes): CallerPolicy {
  const policy = callerPolicyFrom(settings);
  const routes = where.routes.join(', ');
  if (where.routes.length === 0) return policy;
  if (!isOpenPolicy(policy)) {
    where.logger.info({ guarded: where.routes }, describeCallerPolicy(policy));
    return policy;
  }
  if (!where.store.startsWith('file://') && !settings.MLOPS_ALLOW_OPEN) {
    throw new Error(
      `${routes} would accept any caller: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set and the store ` +
        `(${where.store.split('://')[0]}://) is not a local folder. Set one of them, or MLOPS_ALLOW_OPEN=true to run open on purpose`,
    );
  }
  where.logger.warn(`${describeCallerPolicy(policy)}: ${routes} accept unauthenticated calls`);
  return policy;
}

/** One line for the startup log: how the guarded routes are protected. */
export function describeCallerPolicy(policy: CallerPolicy): string {
  const parts = [
    policy.apiKey && 'the API key',
    policy.oidc &&
      `OIDC ID tokens (audiences ${policy.oidc.audiences.join(', ')}; issuers ${policy.oidc.issuers.join(', ')}${policy.oidc.allowedEmails ? `; principals ${policy.oidc.allowedEmails.join(', ')}` : ''})`,
  ].filter(Boolean);
  return parts.length === 0
    ? 'open: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set'
    : `callers authenticated by ${parts.join(' or ')}`;
}

const CALL_AUTH_MODES = ['api-key', 'id-token', 'none'] as const;
export type CallAuthMode = (typeof CALL_AUTH_MODES)[number];

/**
 * How a function proves who it is when it calls other functions. Spread beside `callerAuthSettings`
 * (which holds MLOPS_API_KEY) in the settings of functions that call others.
 */
export const callAuthSettings = {
  /**
   * `api-key`: send MLOPS_API_KEY; `id-token`: send a Google-signed ID token whose audience is the
   * callee's URL (Cloud Run/Functions with IAM invoker); `none`. Unset: api-key when MLOPS_API_KEY is set, else none.
   */
  MLOPS_CALL_AUTH: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.enum(CALL_AUTH_MODES).optional()),
};

export interface CallAuthSettings {
  MLOPS_CALL_AUTH?: CallAuthMode | undefined;
  /** From `callerAuthSettings`: the key this function accepts is also the one it sends. */
  MLOPS_API_KEY?: string | undefined;
}

export interface CallAuth {
  mode: CallAuthMode;
  /** The target for a callee at `url`, carrying this function's credentials. */
  target(url: string, timeoutMs?: number): FunctionTarget;
}

/** How calls to `callees` (the configured URLs, unset ones included) authenticate; throws when the settings contradict each other. */
export function callAuthFrom(settings: CallAuthSettings, callees: readonly (string | undefined)[]): CallAuth {
  const key = settings.MLOPS_API_KEY;
  const mode = settings.MLOPS_CALL_AUTH ?? (key !== undefined ? 'api-key' : 'none');
  if (mode === 'api-key' && key === undefined)
    throw new Error('MLOPS_CALL_AUTH is api-key but MLOPS_API_KEY is not set: there is no key to send');
  // Fail loudly: an identity setting with nobody to call is most likely a misplaced or mistyped URL.
  if (mode === 'id-token' && !callees.some((url) => url !== undefined))
    throw new Error('MLOPS_CALL_AUTH is id-token but this function has no other function to call configured');
  return {
    mode,
    target: (url, timeoutMs) => ({
      url,
      ...(mode === 'api-key' && { apiKey: key }),
      ...(mode === 'id-token' && { idTokenAudience: url }),
      ...(timeoutMs !== undefined && { timeoutMs }),
    }),
  };
}
