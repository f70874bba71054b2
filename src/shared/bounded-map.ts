/**
 * A Map of at most `maxSize` entries, for memos and caches that a busy server would otherwise
 * grow without end: setting an entry past the limit forgets the oldest, and setting a key again
 * makes it the newest.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly maxSize: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.maxSize) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return this;
  }
}
