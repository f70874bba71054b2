/**
 * A sleep that another part of the program can cut short: loops wait on it between rounds, and
 * `wake()` (new work, a reconnect, stop) makes the current or next wait return at once.
 */
export class Wakeup {
  private pending: (() => void) | undefined;
  private isSignalled = false;

  /** Resolves after `ms`, or as soon as `wake()` is called (also if it was called before). */
  wait(ms: number): Promise<void> {
    if (this.isSignalled) {
      this.isSignalled = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.pending = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.pending = undefined;
    });
  }

  wake(): void {
    if (this.pending) this.pending();
    else this.isSignalled = true;
  }

  /** Forgets a wake() that no wait has taken yet (what it asked for happened meanwhile). */
  clear(): void {
    this.isSignalled = false;
  }
}
