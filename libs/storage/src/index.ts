export { openStore } from './open-store.ts';
export { NotFoundError, PreconditionFailedError } from './types.ts';
export type { ObjectInfo, ObjectStore } from './types.ts';
export { sha256OfFile } from './file/file-store.ts';
export { jsonText, putJson } from './json.ts';
export { randomHex } from './random-hex.ts';
export { decideOnce, type DecideOnceOptions, type Once } from './decide-once.ts';
