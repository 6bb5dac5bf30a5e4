/**
 * The Eventarc trigger that routes GCS finalize events to batch-score, created or updated through
 * the Eventarc REST API v1: `@google-cloud/eventarc` is not installable here, and the REST calls
 * are three (create, update, poll the operation). The caller passes an authorised HTTP client
 * (google-auth-library's AuthClient in a deploy, a token-carrying stand-in in tests).
 */
import { z } from 'zod';
import { parentOf, serviceId } from './resources.ts';
import type { GcpDeploySettings } from './settings.ts';

export const EVENTARC_API = 'https://eventarc.googleapis.com/v1';
export const TRIGGER_ID = 'mlops-batch-score-finalize';
/** Every field this tool sets, so an update makes the trigger equal to a fresh create. */
export const TRIGGER_UPDATE_MASK = 'eventFilters,serviceAccount,destination,eventDataContentType';

/** Eventarc's CreateTriggerRequest: the Trigger resource (google.cloud.eventarc.v1.Trigger) and where it goes. */
export interface EventarcTrigger {
  parent: string;
  triggerId: string;
  trigger: {
    name: string;
    eventFilters: { attribute: string; value: string }[];
    serviceAccount: string;
    destination: { cloudRun: { service: string; region: string; path: string } };
    eventDataContentType: string;
  };
}

export function eventarcTrigger(s: GcpDeploySettings): EventarcTrigger {
  return {
    parent: parentOf(s),
    triggerId: TRIGGER_ID,
    trigger: {
      name: `${parentOf(s)}/triggers/${TRIGGER_ID}`,
      // GCS events carry no key-prefix filter: batch-score skips objects outside BATCH_INPUT_PREFIX itself.
      eventFilters: [
        { attribute: 'type', value: 'google.cloud.storage.object.v1.finalized' },
        { attribute: 'bucket', value: s.storeLocation.bucket },
      ],
      serviceAccount: s.gcp.serviceAccount,
      destination: { cloudRun: { service: serviceId('batch-score'), region: s.gcp.region, path: '/' } },
      eventDataContentType: 'application/json',
    },
  };
}

export const createTriggerUrl = (t: EventarcTrigger, base = EVENTARC_API): string =>
  `${base}/${t.parent}/triggers?triggerId=${encodeURIComponent(t.triggerId)}`;
export const updateTriggerUrl = (t: EventarcTrigger, base = EVENTARC_API): string =>
  `${base}/${t.trigger.name}?updateMask=${TRIGGER_UPDATE_MASK}`;

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST' | 'PATCH';
  data?: object;
  /** Which statuses resolve instead of throwing (gaxios option). */
  validateStatus?: (status: number) => boolean;
}

/** The part of google-auth-library's AuthClient used here: it adds the bearer token to each request. */
export interface AuthorizedHttp {
  request<T>(opts: HttpRequest): Promise<{ status: number; data: T }>;
}

export interface EventarcApi {
  http: AuthorizedHttp;
  /** Defaults to the public endpoint; tests point it at a local server. */
  baseUrl?: string;
  pollMs?: number;
  /** Creating a trigger provisions a Pub/Sub topic and subscription: typically a minute or two. */
  timeoutMs?: number;
}

/** An AuthClient from Application Default Credentials; only a real deploy asks for one. */
export async function defaultEventarcApi(): Promise<EventarcApi> {
  const { GoogleAuth } = await import('google-auth-library');
  const http: AuthorizedHttp = await new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' }).getClient();
  return { http };
}

const apiError = z.object({
  error: z.object({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional() }),
});
const operationSchema = z.object({
  name: z.string().min(1),
  done: z.boolean().optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
  response: z.record(z.string(), z.unknown()).optional(),
});
type Operation = z.infer<typeof operationSchema>;

async function call(api: EventarcApi, req: HttpRequest): Promise<{ status: number; body: unknown }> {
  const res = await api.http.request<unknown>({ ...req, validateStatus: () => true });
  return { status: res.status, body: res.data };
}

function failure(req: { method: string; url: string }, status: number, body: unknown): Error {
  const parsed = apiError.safeParse(body);
  const detail = parsed.success
    ? `${parsed.data.error.status ?? status}: ${parsed.data.error.message ?? ''}`
    : JSON.stringify(body).slice(0, 200);
  return new Error(`Eventarc ${req.method} ${req.url} answered ${status} (${detail})`);
}

async function send(api: EventarcApi, req: HttpRequest): Promise<Operation> {
  const { status, body } = await call(api, req);
  if (status < 200 || status >= 300) throw failure(req, status, body);
  return operationSchema.parse(body);
}

async function waitFor(api: EventarcApi, first: Operation): Promise<Operation> {
  const base = api.baseUrl ?? EVENTARC_API;
  const deadline = Date.now() + (api.timeoutMs ?? 300_000);
  let op = first;
  while (!op.done) {
    if (Date.now() > deadline)
      throw new Error(
        `Eventarc operation ${op.name} not done after ${Math.round((api.timeoutMs ?? 300_000) / 1000)} s; check it with: gcloud eventarc operations describe ${op.name}`,
      );
    await new Promise((r) => setTimeout(r, api.pollMs ?? 2000));
    op = await send(api, { url: `${base}/${op.name}`, method: 'GET' });
  }
  if (op.error) throw new Error(`Eventarc operation ${op.name} failed: ${op.error.message ?? `code ${op.error.code ?? '?'}`}`);
  return op;
}

/** POST to create; on 409 (ALREADY_EXISTS) PATCH the same fields; waits for the long-running operation. */
export async function deployEventarcTrigger(
  api: EventarcApi,
  t: EventarcTrigger,
): Promise<{ action: 'created' | 'updated'; trigger: Record<string, unknown> }> {
  const create: HttpRequest = { url: createTriggerUrl(t, api.baseUrl), method: 'POST', data: t.trigger };
  const created = await call(api, create);
  let action: 'created' | 'updated' = 'created';
  let op: Operation;
  if (created.status === 409) {
    action = 'updated';
    op = await send(api, { url: updateTriggerUrl(t, api.baseUrl), method: 'PATCH', data: t.trigger });
  } else if (created.status >= 200 && created.status < 300) op = operationSchema.parse(created.body);
  else throw failure(create, created.status, created.body);
  const done = await waitFor(api, op);
  return { action, trigger: done.response ?? {} };
}
