interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for an append-only file: items added while one batch is being written (and
 * fsynced) go out together in the next, in call order, so a burst costs a few fsyncs rather than
 * one each. `add` resolves once its batch is written, or rejects with the batch's error.
 */
export class GroupCommit<T> {
  private queued: Pending<T>[] = [];
  private flushing: Promise<void> | undefined;

  /** `write` puts a whole batch on disk (durably) before it resolves. */
  constructor(private readonly write: (batch: readonly T[]) => Promise<void>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything added so far is written (or has failed). */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private schedule(): void {
    if (this.flushing) return;
    // The first write waits for the end of this turn of the event loop, so that everything
    // added in the turn goes in it: a second's cron fires start in one turn of timers, and a
    // synchronous write per run between them made the later ones start late (cron start skew
    // p99 32 → 65 ms in the bench once the journal's start entries were no longer fsynced).
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        // An add made while the last batch was being resolved found `flushing` still set.
        if (this.queued.length > 0) this.schedule();
      });
  }

  private async flush(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued;
      this.queued = [];
      try {
        await this.write(batch.map(({ item }) => item));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      for (const pending of batch) pending.resolve();
    }
  }
}
