import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  identifyProcessGroup,
  isGroupAlive,
  leftoverGroupState,
  terminateGroup,
} from '../../../../executor/runner/process-group.js';
import { isProcessAlive } from '../helpers/processes.js';

const hasProc = existsSync('/proc/self/stat');
const started: number[] = [];

/** `/bin/sh -c script` in a process group of its own, as the shell runner starts commands. */
function startGroup(script: string): { groupId: number; firstLine: Promise<string> } {
  const child = spawn('/bin/sh', ['-c', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (child.pid === undefined) throw new Error('cannot start /bin/sh');
  started.push(child.pid);
  const firstLine = new Promise<string>((resolve) => {
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('\n')) resolve(output.split('\n')[0]!);
    });
  });
  return { groupId: child.pid, firstLine };
}

afterEach(() => {
  for (const groupId of started.splice(0)) {
    try {
      process.kill(-groupId, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

describe('process groups left behind by a crash', () => {
  it.skipIf(!hasProc)('are identified by leader start time and boot', () => {
    const { groupId } = startGroup('sleep 30');
    const identity = identifyProcessGroup(groupId);
    expect(identity).toEqual({
      groupId,
      leaderStartTime: expect.stringMatching(/^\d+$/),
      bootId: expect.stringMatching(/\S/),
    });
    expect(leftoverGroupState(identity)).toBe('running');
  });

  it.skipIf(!hasProc)('whose id now names another process or another boot are not theirs', () => {
    const { groupId } = startGroup('sleep 30');
    const identity = identifyProcessGroup(groupId);
    expect(leftoverGroupState({ ...identity, leaderStartTime: '1' })).toBe('reused');
    expect(leftoverGroupState({ ...identity, bootId: 'another-boot' })).toBe('reused');
    expect(isGroupAlive(groupId)).toBe(true);
  });

  it('are gone once ended, and ids no group can have are never signalled', async () => {
    const { groupId } = startGroup('sleep 30');
    const identity = identifyProcessGroup(groupId);
    expect(await terminateGroup(groupId, 1_000)).toBe('SIGTERM');
    expect(leftoverGroupState(identity)).toBe('gone');
    for (const bogus of [0, 1, -1, Number.NaN]) {
      expect(leftoverGroupState({ groupId: bogus, leaderStartTime: null, bootId: null })).toBe(
        'gone',
      );
    }
  });

  it('still count while a member lives after the leader ended', async () => {
    const { groupId, firstLine } = startGroup('sleep 30 & echo $!');
    const identity = identifyProcessGroup(groupId);
    const memberPid = Number(await firstLine);
    // The leader (the shell) exits at once; its background child keeps the group.
    while (isProcessAlive(groupId)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(memberPid).toBeGreaterThan(0);
    expect(leftoverGroupState(identity)).toBe('running');
    expect(await terminateGroup(groupId, 1_000)).toBe('SIGTERM');
    expect(leftoverGroupState(identity)).toBe('gone');
  });

  it('without a start time (no /proc when journaled) count while the group lives', async () => {
    const { groupId } = startGroup('sleep 30');
    const unguarded = { groupId, leaderStartTime: null, bootId: null };
    expect(leftoverGroupState(unguarded)).toBe('running');
    await terminateGroup(groupId, 1_000);
    expect(leftoverGroupState(unguarded)).toBe('gone');
  });
});
