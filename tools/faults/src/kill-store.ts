import type { ObjectStore } from '@mlops/storage';

export interface KillPlan {
  /** The write (1-based, counting only writes whose key matches `keys`) at which the process dies; 0: never. */
  at: number;
  /** Dies just before that write is sent, or just after it completed. */
  when: 'before' | 'after';
  /** Which writes count (default all). */
  keys?: RegExp;
}

/**
 * `store`, with SIGKILL sent to this very process at the chosen write: the crash of a function or
 * job at that step, with nothing after it run (no finally, no exit handler). `writes` lists the
 * counted writes made so far (method and key), for a run that is not killed to report its steps.
 */
export function killingStore(store: ObjectStore, plan: KillPlan): { store: ObjectStore; writes: string[] } {
  const writes: string[] = [];
  const die = () => process.kill(process.pid, 'SIGKILL');
  const counted =
    <A extends unknown[], R>(method: string, write: (key: string, ...rest: A) => Promise<R>) =>
    async (key: string, ...rest: A): Promise<R> => {
      if (plan.keys && !plan.keys.test(key)) return write(key, ...rest);
      writes.push(`${method} ${key}`);
      const n = writes.length;
      if (n === plan.at && plan.when === 'before') die();
      const result = await write(key, ...rest);
      if (n === plan.at && plan.when === 'after') die();
      return result;
    };
  const wrapped: ObjectStore = {
    uri: store.uri,
    get: (key) => store.get(key),
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    createReadStream: (key) => store.createReadStream(key),
    downloadFile: (key, path) => store.downloadFile(key, path),
    put: counted('put', (key, body: Buffer | string) => store.put(key, body)),
    putIfAbsent: counted('putIfAbsent', (key, body: Buffer | string) => store.putIfAbsent(key, body)),
    putIfMatch: counted('putIfMatch', (key, body: Buffer | string, etag: string) => store.putIfMatch(key, body, etag)),
    uploadFile: counted('uploadFile', (key, path: string) => store.uploadFile(key, path)),
  };
  return { store: wrapped, writes };
}
