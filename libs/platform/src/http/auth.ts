import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { HttpError, type Caller, type FunctionEnv } from './http.ts';

/** OIDC ID tokens a function accepts (Cloud Scheduler, an IAM invoker, a workload identity). */
export interface OidcPolicy {
  /** The token's `aud` must be one of these (for Cloud Run/Functions: the function's URL). */
  audiences: string[];
  issuers: string[];
  jwksUrl: string;
  /** When set, only these principals, and only with `email_verified` true. */
  allowedEmails?: string[] | undefined;
}

/** Who may call a guarded route: the shared key, OIDC ID tokens, or both. Neither: open. */
export interface CallerPolicy {
  apiKey?: string | undefined;
  oidc?: OidcPolicy | undefined;
}

/** A policy that lets everyone in: the embedded default on a laptop. Say so at startup. */
export function isOpenPolicy(policy: CallerPolicy): boolean {
  return !policy.apiKey && !policy.oidc;
}

// Google ID tokens are RS256; ES256 for other issuers (workload identity pools, Dex...).
const ALGORITHMS = ['RS256', 'ES256'];
const CLOCK_TOLERANCE_SECONDS = 30;

/** The keys could not be fetched: not the caller's fault. */
class KeysUnavailable extends Error {}

/** Errors from the key lookup that are about the token (its kid/alg), not about the JWKS endpoint. */
const tokenKeyErrors = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWSInvalid,
];

function remoteKeys(jwksUrl: string): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5_000 });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      if (tokenKeyErrors.some((kind) => error instanceof kind)) throw error;
      throw new KeysUnavailable(error instanceof Error ? error.message : String(error), { cause: error });
    }
  };
}

/** Why jose rejected a token, in words safe to send back (jose's own messages never hold the token, but ours are shorter). */
function rejection(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'ID token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'ID token audience is not one this function accepts';
    if (error.claim === 'iss') return 'ID token issuer is not one this function accepts';
    if (error.claim === 'nbf' || error.claim === 'iat') return 'ID token is not valid yet';
    return `ID token claim "${error.claim}" is missing or invalid`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'ID token signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'ID token is signed with a key the issuer does not publish (unknown kid)';
  if (error instanceof errors.JOSEAlgNotAllowed) return `ID token algorithm is not allowed (${ALGORITHMS.join(', ')})`;
  return 'bearer token is neither the API key nor a well-formed ID token';
}

const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/**
 * Compares digests, which are 32 bytes whatever the secrets: comparing the secrets themselves would
 * have to stop early on different lengths, and the time that takes tells a caller the key's length.
 */
function sameSecret(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

/**
 * Guards the routes of functions that change state. `Authorization: Bearer <token>` is let in when
 * the token is the API key (compared in constant time) or an OIDC ID token that verifies against the
 * issuer's published keys, audiences, issuers, expiry and, if configured, allowed verified emails.
 * `X-Api-Key: <key>` also carries the key. 401 says what is missing or wrong (never echoing the
 * token); 503 when the issuer's keys cannot be fetched. Sets `caller` on the context.
 * With neither a key nor OIDC configured the guard is open: the caller of this function warns at startup.
 */
export function requireCaller(policy: CallerPolicy): MiddlewareHandler<FunctionEnv> {
  const key = policy.apiKey ? digest(policy.apiKey) : undefined;
  const oidc = policy.oidc;
  const keys = oidc ? remoteKeys(oidc.jwksUrl) : undefined;
  const allowed = oidc?.allowedEmails ? new Set(oidc.allowedEmails.map((e) => e.toLowerCase())) : undefined;
  const missing = `missing ${[key && 'API key', oidc && 'ID token'].filter(Boolean).join(' or ')}`;
  const accepts = [key && 'Authorization: Bearer <API key> or X-Api-Key', oidc && 'Authorization: Bearer <OIDC ID token>']
    .filter(Boolean)
    .join(' or ');

  const verify = async (token: string): Promise<Caller> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys!, {
        audience: oidc!.audiences,
        issuer: oidc!.issuers,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof KeysUnavailable) throw new HttpError(503, 'cannot verify the token now: the issuer keys are unavailable');
      throw new HttpError(401, rejection(error));
    }
    const email = typeof payload['email'] === 'string' ? payload['email'] : undefined;
    if (allowed) {
      if (email === undefined) throw new HttpError(401, 'ID token carries no email, and this function admits only listed principals');
      if (!allowed.has(email.toLowerCase())) throw new HttpError(401, 'ID token principal is not allowed to call this function');
      // Google sends a boolean; some issuers send the string.
      const verified = payload['email_verified'];
      if (verified !== true && verified !== 'true') throw new HttpError(401, 'ID token email is not verified');
    }
    return { via: 'oidc', sub: payload.sub!, issuer: payload.iss!, ...(email !== undefined && { email }) };
  };

  return async (c, next) => {
    if (!key && !oidc) return next();
    const headerKey = c.req.header('x-api-key');
    const authorization = c.req.header('authorization');
    const bearer = authorization === undefined ? undefined : /^Bearer\s+(.+?)\s*$/i.exec(authorization)?.[1];
    let caller: Caller;
    if (headerKey !== undefined && key) {
      if (!sameSecret(headerKey, key)) throw new HttpError(401, 'wrong API key');
      caller = { via: 'api-key' };
    } else if (bearer !== undefined) {
      if (key && sameSecret(bearer, key)) caller = { via: 'api-key' };
      else if (oidc) caller = await verify(bearer);
      else throw new HttpError(401, 'wrong API key');
    } else if (authorization !== undefined) {
      throw new HttpError(401, `Authorization header is not "Bearer <token>"; send ${accepts}`);
    } else {
      throw new HttpError(401, `${missing}: send ${accepts}`);
    }
    c.set('caller', caller);
    await next();
  };
}

/** The API key alone: `requireCaller({ apiKey })`. */
export function requireApiKey(key: string | undefined): MiddlewareHandler<FunctionEnv> {
  return requireCaller({ apiKey: key });
}
