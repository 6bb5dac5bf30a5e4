export interface BoundedMapOptions<K, V> {
  /** Budget of the entries' estimated bytes; the oldest go first once it is passed. */
  maxBytes: number;
  /** Most entries, whatever their size. */
  maxEntries?: number;
  /** An entry's estimated bytes. */
  bytesOf: (key: K, value: V) => number;
}

/**
 * Entries by key in insertion order, bounded by an estimate of the bytes they hold (and a count):
 * the oldest are dropped first. An entry larger than the whole budget is not kept, and drops none.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private held = 0;

  constructor(private readonly opts: BoundedMapOptions<K, V>) {}

  /** Estimated bytes held now; never above `maxBytes`. */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Keeps `value` as the newest entry (replacing the key's old one), then drops the oldest past the bounds. */
  set(key: K, value: V): void {
    this.delete(key);
    const bytes = this.opts.bytesOf(key, value);
    if (bytes > this.opts.maxBytes) return; // could never fit: keep the others
    this.entries.set(key, { value, bytes });
    this.held += bytes;
    const maxEntries = this.opts.maxEntries ?? Infinity;
    while (this.held > this.opts.maxBytes || this.entries.size > maxEntries) this.delete(this.entries.keys().next().value!);
  }

  private delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.held -= entry.bytes;
  }
}
