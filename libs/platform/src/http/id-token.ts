import type { IdTokenClient } from 'google-auth-library';

// One client per audience: the library keeps its token and refreshes it shortly before `exp`.
const clients = new Map<string, Promise<IdTokenClient>>();

function clientFor(audience: string): Promise<IdTokenClient> {
  let client = clients.get(audience);
  if (!client) {
    // Loaded on the first call that needs a token: the library is heavy and cold starts matter.
    client = import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth().getIdTokenClient(audience));
    clients.set(audience, client);
  }
  return client;
}

/** `promise`, or the signal's reason as soon as it aborts (the promise's own outcome is then ignored, not left unhandled). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A Google-signed ID token for `audience` from Application Default Credentials: the metadata
 * server on GCP (Cloud Run, Cloud Functions, GCE), a service-account key file elsewhere.
 * Rejects with the library's reason, or the signal's when it aborts first.
 */
export async function googleIdToken(audience: string, signal: AbortSignal): Promise<string> {
  const client = clientFor(audience);
  try {
    const headers = await untilAborted(
      client.then((c) => c.getRequestHeaders()),
      signal,
    );
    const token = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')?.[1];
    if (token === undefined) throw new Error('google-auth-library returned no bearer token');
    return token;
  } catch (error) {
    // Forget a failed or stuck client so that the next call starts over instead of repeating it.
    if (clients.get(audience) === client) clients.delete(audience);
    throw error;
  }
}
