import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** Closes a server started by a test. */
export const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Listens on 127.0.0.1 at a free port and returns the base URL (no trailing slash). */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A free port nobody listens on: a server that is down. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await listenLocal(server);
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

export interface TestIssuer {
  iss: string;
  /** Publishes the keys `rsa-1` (RS256) and `ec-1` (ES256); `unpublished` (RS256) signs but is not listed. */
  jwksUrl: string;
  /** How many times the JWKS was fetched. */
  jwksRequests: number;
  /** A Google-shaped ID token (iss, sub, iat, exp + `claims`); `signer` picks the private key, `kid` what the header claims. */
  token(claims?: JWTPayload, opts?: { signer?: string; kid?: string; expiresIn?: number }): Promise<string>;
  close(): Promise<void>;
}

/** An OIDC issuer on 127.0.0.1: real keys, a JWKS endpoint, and tokens signed with them. */
export async function startTestIssuer(iss: string): Promise<TestIssuer> {
  const keys: Record<string, { privateKey: CryptoKey; alg: string }> = {};
  const published: JWK[] = [];
  for (const [kid, alg] of [
    ['rsa-1', 'RS256'],
    ['ec-1', 'ES256'],
    ['unpublished', 'RS256'],
  ] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    keys[kid] = { privateKey, alg };
    if (kid !== 'unpublished') published.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
  }
  const server = createServer((_req, res) => {
    issuer.jwksRequests += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  const base = await listenLocal(server);
  const issuer: TestIssuer = {
    iss,
    jwksUrl: `${base}/certs`,
    jwksRequests: 0,
    token: (claims = {}, opts = {}) => {
      const signer = keys[opts.signer ?? 'rsa-1']!;
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss, sub: '1234567890', iat: now - 10, exp: now + (opts.expiresIn ?? 3600), ...claims };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: signer.alg, kid: opts.kid ?? opts.signer ?? 'rsa-1', typ: 'JWT' })
        .sign(signer.privateKey);
    },
    close: () => closeServer(server),
  };
  return issuer;
}

export interface FakeMetadataServer {
  /** `host:port`, the form GCE_METADATA_HOST takes. */
  host: string;
  /** The audiences ID tokens were asked for, in order. */
  identityRequests: string[];
  close(): Promise<void>;
}

/**
 * The parts of the GCE metadata server google-auth-library uses to get an ID token: the `instance`
 * ping that detects GCP, the project id, and `service-accounts/default/identity`, which answers with
 * a token from `issuer` for the requested audience. Like the real one it wants `Metadata-Flavor: Google`
 * and answers with that header.
 */
export async function startFakeMetadataServer(issuer: TestIssuer, email: string): Promise<FakeMetadataServer> {
  const identityRequests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metadata');
    const send = (status: number, text: string) =>
      res.writeHead(status, { 'metadata-flavor': 'Google', 'content-type': 'application/text' }).end(text);
    if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'missing Metadata-Flavor: Google');
    switch (url.pathname) {
      case '/computeMetadata/v1/instance':
        return send(200, '{}');
      case '/computeMetadata/v1/project/project-id':
        return send(200, 'test-project');
      case '/computeMetadata/v1/instance/service-accounts/default/identity': {
        const audience = url.searchParams.get('audience');
        if (!audience || url.searchParams.get('format') !== 'full') return send(400, 'audience and format=full are required');
        identityRequests.push(audience);
        return void issuer.token({ aud: audience, azp: '1234567890', email, email_verified: true }).then((t) => send(200, t));
      }
      default:
        return send(404, 'not found');
    }
  });
  const base = await listenLocal(server);
  return { host: base.replace('http://', ''), identityRequests, close: () => closeServer(server) };
}
