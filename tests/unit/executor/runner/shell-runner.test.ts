import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shellAssignment } from '../helpers/assignments.js';
import { isProcessAlive } from '../helpers/processes.js';
import { observeRun } from './run-helpers.js';

const folder = mkdtempSync(path.join(tmpdir(), 'shell-runner-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** PIDs a command printed (one per line, `echo $!`). */
function printedPids(output: string): number[] {
  return output
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

describe('shell runner', () => {
  it('streams output while the command still runs, and finishes', async () => {
    const run = observeRun(shellAssignment({ command: 'echo a; sleep 1; echo b' }));
    const first = await run.firstChunk;
    expect(first).toMatchObject({ seq: 0, stream: 'STDOUT', content: 'a\n', wasRunOver: false });
    const outcome = await run.outcome;
    expect(outcome).toEqual({
      status: 'FINISHED',
      exitCode: 0,
      statusReason: null,
      result: 'a\nb\n',
    });
    expect(run.chunks.map((chunk) => chunk.seq)).toEqual(run.chunks.map((_, index) => index));
    expect(run.output()).toBe('a\nb\n');
  });

  it('keeps stdout and stderr apart, in the order they came', async () => {
    const run = observeRun(shellAssignment({ command: 'echo out; sleep 0.2; echo err >&2' }));
    await run.outcome;
    expect(run.chunks.map(({ stream, content }) => [stream, content])).toEqual([
      ['STDOUT', 'out\n'],
      ['STDERR', 'err\n'],
    ]);
  });

  it('ends ABNORMAL_ENDING on an unexpected exit code, and FINISHED on the expected one', async () => {
    const failed = await observeRun(shellAssignment({ command: 'echo bye; exit 3' })).outcome;
    expect(failed).toMatchObject({
      status: 'ABNORMAL_ENDING',
      exitCode: 3,
      statusReason: 'exit code 3, expected 0',
      result: 'bye\n',
    });
    const expected = await observeRun(shellAssignment({ command: 'exit 3', expectedExitCode: 3 }))
      .outcome;
    expect(expected).toMatchObject({ status: 'FINISHED', exitCode: 3 });
  });

  it('finds the expected output across chunk boundaries', async () => {
    const command = "printf 'HEL'; sleep 0.3; printf 'LO'";
    const run = observeRun(shellAssignment({ command, expectedOutput: 'HELLO' }));
    expect(await run.outcome).toMatchObject({ status: 'FINISHED' });
    expect(run.chunks.map((chunk) => chunk.content)).toEqual(['HEL', 'LO']);

    const missing = await observeRun(shellAssignment({ command, expectedOutput: 'WORLD' })).outcome;
    expect(missing.status).toBe('ABNORMAL_ENDING');
    expect(missing.statusReason).toContain('"WORLD"');
  });

  it('runs with the given environment and working directory', async () => {
    const run = observeRun(
      shellAssignment({
        command: 'echo "$GREETING"; pwd',
        env: [{ name: 'GREETING', value: 'hello there' }],
        workingDirectory: folder,
      }),
    );
    expect(await run.outcome).toMatchObject({ status: 'FINISHED' });
    expect(run.output()).toBe(`hello there\n${realpathSync(folder)}\n`);
  });

  it('reports a working directory that does not exist', async () => {
    const missing = path.join(folder, 'missing');
    const outcome = await observeRun(shellAssignment({ workingDirectory: missing })).outcome;
    expect(outcome.status).toBe('ABNORMAL_ENDING');
    expect(outcome.statusReason).toContain(missing);
  });

  it('cuts large output into ordered chunks of at most 64 KiB', async () => {
    const run = observeRun(shellAssignment({ command: "head -c 300000 /dev/zero | tr '\\0' x" }));
    const outcome = await run.outcome;
    expect(outcome.status).toBe('FINISHED');
    expect(run.output()).toBe('x'.repeat(300_000));
    for (const chunk of run.chunks)
      expect(Buffer.byteLength(chunk.content)).toBeLessThanOrEqual(65_536);
    expect(run.chunks.map((chunk) => chunk.seq)).toEqual(run.chunks.map((_, index) => index));
    expect(Buffer.byteLength(outcome.result ?? '')).toBe(65_536);
  });

  it('kills the whole process group on timeout', async () => {
    const run = observeRun(
      shellAssignment({ command: 'sleep 30 & echo $!; sleep 30', timeoutSeconds: 1 }),
    );
    const [backgroundPid] = printedPids((await run.firstChunk).content);
    expect(backgroundPid).toBeDefined();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('TIMEOUT_ENDING');
    expect(outcome.statusReason).toBe(
      'timed out after 1 s; the process group was ended with SIGTERM',
    );
    expect(isProcessAlive(backgroundPid!)).toBe(false);
  });

  it('sends SIGKILL after the grace to processes that ignore SIGTERM', async () => {
    const command = `sh -c 'trap "" TERM; sleep 30' & echo $!; trap "" TERM; sleep 30`;
    const run = observeRun(shellAssignment({ command, timeoutSeconds: 1 }), { killGraceMs: 300 });
    const [stubbornPid] = printedPids((await run.firstChunk).content);
    const outcome = await run.outcome;
    expect(outcome).toMatchObject({
      status: 'TIMEOUT_ENDING',
      statusReason: 'timed out after 1 s; the process group was ended with SIGKILL',
    });
    expect(isProcessAlive(stubbornPid!)).toBe(false);
  });

  it('cancels: kills the group and ends MANUAL_CANCELLATION', async () => {
    const run = observeRun(shellAssignment({ command: 'sleep 30 & echo $!; sleep 30' }));
    const [backgroundPid] = printedPids((await run.firstChunk).content);
    run.handle.cancel('cancelled by alice');
    const outcome = await run.outcome;
    expect(outcome).toMatchObject({
      status: 'MANUAL_CANCELLATION',
      statusReason: 'cancelled by alice; the process group was ended with SIGTERM',
    });
    expect(isProcessAlive(backgroundPid!)).toBe(false);
  });

  it('cancelled before it started, it never runs', async () => {
    const marker = path.join(folder, 'never');
    const run = observeRun(shellAssignment({ command: `touch ${marker}` }));
    run.handle.cancel('too late');
    expect(await run.outcome).toMatchObject({
      status: 'MANUAL_CANCELLATION',
      statusReason: 'too late',
    });
    const touched = await observeRun(shellAssignment({ command: `test -e ${marker}` })).outcome;
    expect(touched.exitCode).toBe(1);
  });
});
