import type { ObjectInfo, ObjectStore } from './types.ts';

/** Indented JSON ending in a newline: the layout of every JSON document kept for people to read (records, summaries, lineage). */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes `value` at `key` as jsonText. */
export function putJson(store: ObjectStore, key: string, value: unknown): Promise<ObjectInfo> {
  return store.put(key, jsonText(value));
}
