/**
 * Gathers the keys asked for until `gathered` resolves (the end of this tick) and loads them all
 * with one call: resolvers of a page's rows, or streams woken by one notification, then cost one
 * query instead of one each. Nothing is cached past a batch: a later ask sees later data.
 */
export class TickBatcher<Key, Value> {
  private batch: { keys: Set<Key>; loaded: Promise<Map<Key, Value>> } | null = null;

  constructor(
    private readonly load: (keys: Key[]) => Promise<Map<Key, Value>>,
    private readonly gathered: () => Promise<void> = () =>
      new Promise((resolve) => setImmediate(resolve)),
  ) {}

  get(key: Key): Promise<Value | undefined> {
    let batch = this.batch;
    if (!batch) {
      const keys = new Set<Key>();
      const loaded = this.gathered().then(() => {
        this.batch = null;
        return this.load([...keys]);
      });
      batch = { keys, loaded };
      this.batch = batch;
    }
    batch.keys.add(key);
    return batch.loaded.then((values) => values.get(key));
  }
}
