import { randomBytes } from 'node:crypto';

/** `bytes` random bytes in hex: the part of a name that keeps writers apart (temp files, object keys, run ids). */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
