// Test helper: increments a counter object with putIfMatch, retrying on conflict.
// Run directly (`node --import tsx increment-worker.ts <root> <key> <times>`) to race from another process.
import { pathToFileURL } from 'node:url';
import { PreconditionFailedError, type ObjectStore } from '../types.ts';
import { FileStore } from './file-store.ts';

export async function incrementCounter(store: ObjectStore, key: string, times: number): Promise<void> {
  for (let done = 0; done < times;) {
    const { body, info } = await store.get(key);
    try {
      await store.putIfMatch(key, String(Number(body.toString()) + 1), info.etag);
      done++;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [root, key, times] = process.argv.slice(2);
  if (!root || !key || !times) throw new Error('usage: increment-worker.ts <root> <key> <times>');
  await incrementCounter(new FileStore(root), key, Number(times));
}
