import type { ObjectStore } from './types.ts';

/**
 * A store whose implementation is loaded on first use. The cloud SDKs take hundreds of
 * milliseconds to import; a function on `file://` (or one that never touches its store before
 * answering) should not pay that on cold start. A failed load is retried on the next call.
 */
export function deferredStore(uri: string, load: () => Promise<ObjectStore>): ObjectStore {
  let loading: Promise<ObjectStore> | undefined;
  const store = (): Promise<ObjectStore> =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
  return {
    uri,
    get: async (key) => (await store()).get(key),
    head: async (key) => (await store()).head(key),
    put: async (key, body) => (await store()).put(key, body),
    putIfAbsent: async (key, body) => (await store()).putIfAbsent(key, body),
    putIfMatch: async (key, body, etag) => (await store()).putIfMatch(key, body, etag),
    list: async (prefix) => (await store()).list(prefix),
    delete: async (key) => (await store()).delete(key),
    createReadStream: async (key) => (await store()).createReadStream(key),
    uploadFile: async (key, localPath) => (await store()).uploadFile(key, localPath),
    downloadFile: async (key, localPath) => (await store()).downloadFile(key, localPath),
  };
}
