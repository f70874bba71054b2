import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { LogChunker } from './log-chunker.js';
import { OutputRecord } from './output-record.js';
import { identifyProcessGroup, terminateGroup } from './process-group.js';
import { errorMessage, type RunContext, type RunHandle, type RunOutcome } from './run-outcome.js';

/**
 * After the shell exits, how long its output may still take to arrive (a background process may
 * keep the pipes open; it is left running, as `nohup cmd &` intends, but no longer read).
 */
const outputDrainMs = 500;

/** Variables of the executor itself that commands must not see. */
const privateVariables = ['GRAPHCRON_ENROLLMENT_TOKEN'];

function inheritedEnvironment(): NodeJS.ProcessEnv {
  const environment = { ...process.env };
  for (const name of privateVariables) delete environment[name];
  return environment;
}

type Interruption = { kind: 'timeout' } | { kind: 'cancellation'; reason: string };

async function workingDirectoryProblem(directory: string): Promise<string | undefined> {
  try {
    if (!(await stat(directory)).isDirectory()) return `${directory} is not a directory`;
  } catch (error) {
    return `working directory ${directory}: ${errorMessage(error)}`;
  }
  return undefined;
}

/**
 * Runs `/bin/sh -c command` in its own process group, streaming its output. A timeout or a
 * cancellation ends the whole group (children included): SIGTERM, then SIGKILL after the grace.
 */
export function startShellRun(context: RunContext): RunHandle {
  const { assignment } = context;
  let interruption: Interruption | undefined;
  let interrupt: (reason: Interruption) => void = (reason) => {
    interruption ??= reason; // Before the process exists: it is never started.
  };

  const outcome = (async (): Promise<RunOutcome> => {
    const directory = assignment.workingDirectory ?? context.defaultWorkingDirectory;
    const problem = await workingDirectoryProblem(directory);
    if (problem) {
      return { status: 'ABNORMAL_ENDING', exitCode: null, statusReason: problem, result: null };
    }
    if (interruption?.kind === 'cancellation') {
      return {
        status: 'MANUAL_CANCELLATION',
        exitCode: null,
        statusReason: interruption.reason,
        result: null,
      };
    }
    const output = new OutputRecord(assignment.expectedOutput);
    const chunker = new LogChunker({
      onChunk: (chunk) => {
        output.add(chunk.stream, chunk.content);
        context.onChunk(chunk);
      },
    });
    const child = spawn('/bin/sh', ['-c', assignment.command], {
      detached: true, // Its own process group, so that a kill reaches every descendant.
      cwd: directory,
      env: {
        ...inheritedEnvironment(),
        ...Object.fromEntries(assignment.env.map(({ name, value }) => [name, value])),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Now, before the event loop runs: see identifyProcessGroup.
    if (child.pid !== undefined) context.onProcessGroup?.(identifyProcessGroup(child.pid));
    child.stdout.on('data', (data: Buffer) => chunker.write('STDOUT', data));
    child.stderr.on('data', (data: Buffer) => chunker.write('STDERR', data));

    const spawned = new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.on('error', resolve); // Also keeps a later error (after spawn) from crashing us.
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const outputClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));

    const spawnError = await spawned;
    if (spawnError || child.pid === undefined) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: null,
        statusReason: `cannot start /bin/sh: ${errorMessage(spawnError)}`,
        result: null,
      };
    }
    const groupId = child.pid;
    let hasExited = false;
    let killing: Promise<NodeJS.Signals> | undefined;
    interrupt = (reason) => {
      if (hasExited || interruption) return;
      interruption = reason;
      killing = terminateGroup(groupId, context.killGraceMs);
    };
    if (interruption) {
      const early = interruption;
      interruption = undefined;
      interrupt(early);
    }
    const timer = setTimeout(
      () => interrupt({ kind: 'timeout' }),
      assignment.timeoutSeconds * 1000,
    );

    const { code, signal } = await exited;
    hasExited = true;
    clearTimeout(timer);
    const lastSignal = killing ? await killing : undefined;
    await Promise.race([
      outputClosed,
      new Promise((resolve) => setTimeout(resolve, outputDrainMs)),
    ]);
    child.stdout.destroy();
    child.stderr.destroy();
    chunker.end();

    // Set by the closures above while we awaited; the compiler cannot see that.
    const ending = interruption as Interruption | undefined;
    const result = output.end() || null;
    const killedBy = lastSignal ? `; the process group was ended with ${lastSignal}` : '';
    if (ending?.kind === 'timeout') {
      return {
        status: 'TIMEOUT_ENDING',
        exitCode: code,
        statusReason: `timed out after ${assignment.timeoutSeconds} s${killedBy}`,
        result,
      };
    }
    if (ending?.kind === 'cancellation') {
      return {
        status: 'MANUAL_CANCELLATION',
        exitCode: code,
        statusReason: `${ending.reason}${killedBy}`,
        result,
      };
    }
    if (signal) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: null,
        statusReason: `killed by ${signal}`,
        result,
      };
    }
    if (code !== assignment.expectedExitCode) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: code,
        statusReason: `exit code ${code}, expected ${assignment.expectedExitCode}`,
        result,
      };
    }
    if (!output.containsExpectedOutput) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: code,
        statusReason: `the output does not contain the expected text ${JSON.stringify(assignment.expectedOutput)}`,
        result,
      };
    }
    return { status: 'FINISHED', exitCode: code, statusReason: null, result };
  })().catch((error: unknown): RunOutcome => ({
    status: 'ABNORMAL_ENDING',
    exitCode: null,
    statusReason: `the executor failed to run the command: ${errorMessage(error)}`,
    result: null,
  }));

  return {
    outcome,
    cancel: (reason) => interrupt({ kind: 'cancellation', reason }),
  };
}
