import { z } from 'zod';
import { jsonText } from './json.ts';
import { randomHex } from './random-hex.ts';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from './types.ts';

const LeaseSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('deciding'), owner: z.string(), since: z.iso.datetime() }),
  z.object({ state: z.literal('failed'), owner: z.string(), since: z.iso.datetime() }),
  z.object({ state: z.literal('decided'), owner: z.string(), since: z.iso.datetime(), value: z.unknown() }),
]);

export type Once<T> =
  | { outcome: 'decided'; value: T; repeated: boolean }
  /** Another caller holds the lease and is deciding now. */
  | { outcome: 'busy'; since: string };

export interface DecideOnceOptions<T> {
  /** A holder silent this long died: its lease is taken over. */
  leaseMs: number;
  /** Reads the stored answer back for a repeated call. */
  schema: z.ZodType<T>;
  now?: () => Date;
}

/**
 * Runs `decide` at most once per `key` across processes and instances, through a lease object
 * written with conditional puts: the first caller takes it and stores the answer in it; a caller
 * after that gets the stored answer (`repeated`), one while it runs gets `busy`. A decision that
 * throws, or whose holder went silent past `leaseMs`, can be taken again.
 */
export async function decideOnce<T>(
  store: ObjectStore,
  key: string,
  opts: DecideOnceOptions<T>,
  decide: () => Promise<T>,
): Promise<Once<T>> {
  const now = opts.now ?? (() => new Date());
  const owner = `${process.pid}-${randomHex(6)}`;
  const lease = (state: 'deciding' | 'failed') => jsonText({ state, owner, since: now().toISOString() });
  let etag: string;
  try {
    etag = (await store.putIfAbsent(key, lease('deciding'))).etag;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    const held = await store.get(key).catch((e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (!held) return decideOnce(store, key, opts, decide); // removed by hand meanwhile: start over
    const current = LeaseSchema.parse(JSON.parse(held.body.toString('utf8')));
    if (current.state === 'decided') return { outcome: 'decided', value: opts.schema.parse(current.value), repeated: true };
    const silentMs = now().getTime() - Date.parse(current.since);
    if (current.state === 'deciding' && silentMs < opts.leaseMs) return { outcome: 'busy', since: current.since };
    try {
      etag = (await store.putIfMatch(key, lease('deciding'), held.info.etag)).etag;
    } catch (e) {
      if (e instanceof PreconditionFailedError) return decideOnce(store, key, opts, decide); // another caller took it first
      throw e;
    }
  }
  let value: T;
  try {
    value = await decide();
  } catch (error) {
    // Let a retry decide now rather than after the lease; a takeover meanwhile keeps its own lease.
    await store.putIfMatch(key, lease('failed'), etag).catch(() => undefined);
    throw error;
  }
  // Fails only if our lease ran out and another caller took it: the decision is made all the same.
  await store.putIfMatch(key, jsonText({ state: 'decided', owner, since: now().toISOString(), value }), etag).catch((e: unknown) => {
    if (!(e instanceof PreconditionFailedError)) throw e;
  });
  return { outcome: 'decided', value, repeated: false };
}
