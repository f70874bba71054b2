import { readdirSync, readFileSync } from 'node:fs';

const pollIntervalMs = 50;
/** After SIGKILL, how long to wait for the kernel to remove the group before giving up waiting. */
const afterKillWaitMs = 5_000;

/** Sends `signal` to every process of the group; false if the group no longer exists. */
export function signalGroup(groupId: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-groupId, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while a live (non-zombie) process is in the group. On Linux /proc tells zombies apart:
 * where nothing reaps orphans (a container whose PID 1 does not), killed children stay zombies and
 * `kill(-group, 0)` would still succeed although nothing runs.
 */
export function isGroupAlive(groupId: number): boolean {
  if (!signalGroup(groupId, 0)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // It ended while we looked.
    }
    // "pid (command) state ppid pgrp ...": the command may contain spaces and parentheses.
    const [state, , groupField] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(groupField) === groupId && state !== 'Z') return true;
  }
  return false;
}

async function waitForGroupExit(groupId: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isGroupAlive(groupId)) return true;
    if (Date.now() >= deadline) return false;
    // No event tells when a whole process group is gone, so this one place polls.
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/**
 * Ends every process of the group: SIGTERM, then SIGKILL to whatever is left after `graceMs`.
 * Resolves with the last signal that was needed.
 */
export async function terminateGroup(
  groupId: number,
  graceMs: number,
): Promise<'SIGTERM' | 'SIGKILL'> {
  if (!signalGroup(groupId, 'SIGTERM')) return 'SIGTERM';
  if (await waitForGroupExit(groupId, graceMs)) return 'SIGTERM';
  signalGroup(groupId, 'SIGKILL');
  await waitForGroupExit(groupId, afterKillWaitMs);
  return 'SIGKILL';
}
