import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunJournal } from '../../../../executor/work/run-journal.js';
import { shellAssignment } from '../helpers/assignments.js';

describe('RunJournal', () => {
  let folder: string;
  const journals: RunJournal[] = [];
  const openJournal = async (): Promise<RunJournal> => {
    const journal = await RunJournal.open(folder);
    journals.push(journal);
    return journal;
  };

  beforeEach(() => {
    folder = mkdtempSync(path.join(tmpdir(), 'journal-'));
  });
  afterEach(async () => {
    for (const journal of journals.splice(0)) await journal.close().catch(() => undefined);
    rmSync(folder, { recursive: true, force: true });
  });

  it('keeps the latest entry of every run across a reopen, and forgets removed runs', async () => {
    const journal = await openJournal();
    const queued = shellAssignment({ command: 'echo queued' });
    const started = shellAssignment({ command: 'echo started' });
    const done = shellAssignment({ command: 'echo done' });
    await Promise.all([
      journal.write({ assignment: queued, startedAt: null }),
      journal.write({ assignment: started, startedAt: null }),
      journal.write({ assignment: done, startedAt: null }),
    ]);
    await journal.write({ assignment: started, startedAt: '2030-01-01T00:00:00.000Z' });
    await journal.remove(done);
    await journal.close();

    const reopened = await openJournal();
    const entries = await reopened.entries();
    expect(entries.map((e) => [e.assignment.command, e.startedAt])).toEqual([
      ['echo queued', null],
      ['echo started', '2030-01-01T00:00:00.000Z'],
    ]);
  });

  it('skips a torn last line (a crash in the middle of a write)', async () => {
    const journal = await openJournal();
    const kept = shellAssignment({ command: 'echo kept' });
    await journal.write({ assignment: kept, startedAt: null });
    await journal.close();
    appendFileSync(path.join(folder, 'journal.jsonl'), '{"put":{"assignment":{"instanceId":');

    const reopened = await openJournal();
    expect((await reopened.entries()).map((e) => e.assignment.command)).toEqual(['echo kept']);
  });

  it('reads the one-file-per-run journal of earlier versions and folds it into the log', async () => {
    const old = shellAssignment({ command: 'echo from an older executor' });
    writeFileSync(
      path.join(folder, `${encodeURIComponent(`${old.instanceId}#${old.attempt}`)}.json`),
      JSON.stringify({ assignment: old, startedAt: null }),
    );
    writeFileSync(path.join(folder, 'torn.json.tmp'), '{"assign');
    const journal = await openJournal();
    expect((await journal.entries()).map((e) => e.assignment.command)).toEqual([
      'echo from an older executor',
    ]);
    expect(readdirSync(folder)).toEqual(['journal.jsonl']);
    await journal.remove(old);
    await journal.close();
    expect(await (await openJournal()).entries()).toEqual([]);
  });

  it('stays small: a long history is compacted to what is live', async () => {
    const journal = await openJournal();
    const big = 'x'.repeat(10_000);
    for (let index = 0; index < 150; index++) {
      const assignment = shellAssignment({ command: `echo ${index} ${big}` });
      await journal.write({ assignment, startedAt: null });
      if (index !== 149) await journal.remove(assignment);
    }
    await journal.close();
    expect(statSync(path.join(folder, 'journal.jsonl')).size).toBeLessThan(600_000);
    const reopened = await openJournal();
    expect((await reopened.entries()).map((e) => e.assignment.command.split(' ')[1])).toEqual([
      '149',
    ]);
  });
});
