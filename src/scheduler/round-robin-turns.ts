/**
 * Each task's ROUND_ROBIN position, shared by this server's dispatcher and by `runTask`, which
 * places a run itself when nothing waits (placement.sql.ts). Per process: losing them on
 * restart, or two replicas each keeping their own, only changes who is next.
 */
export class RoundRobinTurns {
  private readonly byTask = new Map<number, number>();

  /** The task's position now (any increasing number works). */
  current(taskId: number): number {
    return this.byTask.get(taskId) ?? 0;
  }

  /** Moves the task on to its next executor. */
  advance(taskId: number): void {
    this.byTask.set(taskId, this.current(taskId) + 1);
  }

  /**
   * The task's position, moved on at once: for a run whose placement is decided later, in the
   * database. Concurrent `runTask` calls of one task each get their own turn (taken when the
   * placement was known, they all went to the same executor). A run that is not placed leaves
   * its turn unused, which only shifts who is next.
   */
  take(taskId: number): number {
    const turn = this.current(taskId);
    this.advance(taskId);
    return turn;
  }
}
