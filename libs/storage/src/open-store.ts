import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from './file/file-store.ts';
import type { ObjectStore } from './types.ts';

/** `file:///abs`, `file://relative` or a plain path open a folder store; cloud schemes come later. */
export function openStore(uri: string): ObjectStore {
  if (uri.startsWith('file://')) {
    const rest = uri.slice('file://'.length);
    if (rest === '') throw new Error(`Store URI ${uri} names no folder`);
    return new FileStore(rest.startsWith('/') ? fileURLToPath(uri) : resolve(rest));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'gs' || scheme === 's3') {
    throw new Error(`${scheme}:// stores are not supported yet (${uri}); use a file:// URI or a local path`);
  }
  if (scheme) throw new Error(`Unknown store scheme in ${uri}; expected file://, gs://, s3:// or a local path`);
  if (uri === '') throw new Error('Store URI is empty');
  return new FileStore(resolve(uri));
}
