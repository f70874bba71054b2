import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../../executor/shared/group-commit.js';

describe('GroupCommit', () => {
  it('writes everything added in one turn of the event loop in one batch, in call order', async () => {
    const batches: number[][] = [];
    let releaseWrite: () => void = () => undefined;
    const commits = new GroupCommit<number>(async (batch) => {
      batches.push([...batch]);
      // The first batch's write takes a while, as an fsync does.
      if (batches.length === 1) await new Promise<void>((resolve) => (releaseWrite = resolve));
    });
    const firstTurn = [1, 2, 3].map((item) => commits.add(item));
    // Not written in the turn that added them.
    expect(batches).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1, 2, 3]]);
    // Added while that batch is being written: they wait for it, and go together after it.
    const during = [4, 5].map((item) => commits.add(item));
    releaseWrite();
    await Promise.all([...firstTurn, ...during]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await commits.settled();
  });

  it('rejects the adds of a batch whose write fails, and writes the next batch', async () => {
    let isFailing = true;
    const written: string[] = [];
    const commits = new GroupCommit<string>((batch) => {
      if (isFailing) return Promise.reject(new Error('disk full'));
      written.push(...batch);
      return Promise.resolve();
    });
    await expect(commits.add('lost')).rejects.toThrow('disk full');
    isFailing = false;
    await commits.add('kept');
    expect(written).toEqual(['kept']);
  });
});
