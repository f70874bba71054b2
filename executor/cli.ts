#!/usr/bin/env node
import { keygenCommand } from './commands/keygen-command.js';
import { registerCommand } from './commands/register-command.js';
import { runCommand } from './commands/run-command.js';
import { UsageError } from './config/usage-error.js';
import { GraphqlRequestError } from './transport/graphql-http-client.js';

const usage = `usage: graphcron-executor <command> [flags]

commands:
  register --server <url> --token <enrollment token> --name <name>
           [--host <host:port>] [--capacity N] [--tag T] [--state-dir D] [--force]
  keygen   [--state-dir D]
  run      [--server <url>] [--executor-id ID] [--state-dir D] [--capacity N]
           [--heartbeat-seconds S] [--kill-grace-seconds S] [--log-level L]

environment: GRAPHCRON_SERVER_URL, GRAPHCRON_EXECUTOR_ID, GRAPHCRON_EXECUTOR_STATE_DIR,
  GRAPHCRON_EXECUTOR_CAPACITY, GRAPHCRON_EXECUTOR_HEARTBEAT_SECONDS,
  GRAPHCRON_EXECUTOR_KILL_GRACE_SECONDS, GRAPHCRON_EXECUTOR_LOG_LEVEL, GRAPHCRON_ENROLLMENT_TOKEN`;

const print = (line: string): void => void process.stdout.write(`${line}\n`);
const note = (line: string): void => void process.stderr.write(`graphcron-executor: ${line}\n`);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'register':
      return registerCommand(rest, process.env, print);
    case 'keygen':
      return keygenCommand(rest, process.env, print, note);
    case 'run':
      return runCommand(rest, process.env, print);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      print(usage);
      return;
    default:
      throw new UsageError(`unknown command "${command}" (register, keygen or run)`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // parseArgs throws TypeErrors with a code for unknown or malformed flags.
  const isArgumentError =
    error instanceof UsageError ||
    (error instanceof TypeError &&
      String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS'));
  const message = error instanceof Error ? error.message : String(error);
  if (isArgumentError) {
    note(message);
    process.exit(64);
  }
  if (error instanceof GraphqlRequestError) note(`the server said: ${message} (${error.code})`);
  else note(message);
  process.exit(1);
});
