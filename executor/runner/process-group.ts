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

interface ProcessStat {
  readonly state: string;
  readonly groupId: number;
  /** Clock ticks after boot at which the process started (field 22): a pid with a history. */
  readonly startTime: string;
}

/** /proc/<pid>/stat, parsed; undefined when the process is gone or there is no /proc. */
function readProcessStat(pid: number | string): ProcessStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (command) state ppid pgrp ...": the command may contain spaces and parentheses, so
  // fields are counted from the last ")"; field n (1-based, as in proc(5)) is at index n - 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, , groupField] = fields;
  const startTime = fields[22 - 3];
  if (state === undefined || groupField === undefined || startTime === undefined) return undefined;
  return { state, groupId: Number(groupField), startTime };
}

/** Ids of /proc entries that are processes; undefined without /proc (not Linux). */
function listProcesses(): string[] | undefined {
  try {
    return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * The groups among `groupIds` that still have a live (non-zombie) process, in one pass over /proc
 * however many groups are asked about (a restart may have dozens to stop). On Linux /proc tells
 * zombies apart: where nothing reaps orphans (a container whose PID 1 does not), killed children
 * stay zombies and `kill(-group, 0)` would still succeed although nothing runs.
 */
function liveGroups(groupIds: Iterable<number>): Set<number> {
  const existing = new Set([...groupIds].filter((groupId) => signalGroup(groupId, 0)));
  if (existing.size === 0) return existing;
  const pids = listProcesses();
  if (!pids) return existing;
  const live = new Set<number>();
  for (const pid of pids) {
    const stat = readProcessStat(pid); // Undefined if it ended while we looked.
    if (stat && stat.state !== 'Z' && existing.has(stat.groupId)) live.add(stat.groupId);
  }
  return live;
}

/** True while a live (non-zombie) process is in the group. */
export function isGroupAlive(groupId: number): boolean {
  return liveGroups([groupId]).has(groupId);
}

/**
 * A process group as journaled when its run started, so that an executor restarted after a crash
 * can stop what its predecessor left running, and only that: the kernel reuses ids, so the id
 * comes with the leader's start time and the boot it counts from (null where there is no /proc).
 */
export interface ProcessGroupIdentity {
  readonly groupId: number;
  /** Clock ticks after boot at which the group's leader started (/proc/<pid>/stat field 22). */
  readonly leaderStartTime: string | null;
  /** /proc/sys/kernel/random/boot_id: start times are only comparable within one boot. */
  readonly bootId: string | null;
}

/**
 * The identity of the group a just-spawned child leads. Call it synchronously after spawn(): until
 * the event loop runs, the child cannot have been reaped (at worst it is a zombie whose stat is
 * still readable), so its pid is still its own.
 */
export function identifyProcessGroup(leaderPid: number): ProcessGroupIdentity {
  return {
    groupId: leaderPid,
    leaderStartTime: readProcessStat(leaderPid)?.startTime ?? null,
    bootId: readBootId(),
  };
}

export type LeftoverGroupState = 'running' | 'gone' | 'reused';

/**
 * For each journaled group, whether live processes of it remain and are that run's. Linux keeps
 * an id allocated while any process still uses it as its group id, so if the id now names a
 * different process (another start time) or the machine rebooted, the run's group ended and the id
 * is someone else's. A group whose leader is gone but whose members live is taken for the run's:
 * to be another, the run's whole group must have ended, the id come round to a new group leader,
 * and that leader have ended too. Without /proc there is no guard: a live group with that id is
 * taken for the run's, which is what it almost always is this soon after a crash.
 */
export function leftoverGroupStates(
  identities: readonly ProcessGroupIdentity[],
): LeftoverGroupState[] {
  const currentBootId = readBootId();
  const states = identities.map(({ groupId, leaderStartTime, bootId }): LeftoverGroupState => {
    // From a file on disk: kill(-0) or kill(-(-1)) would signal the executor's own group or init.
    if (!Number.isSafeInteger(groupId) || groupId <= 1) return 'gone';
    if (!signalGroup(groupId, 0)) return 'gone';
    if (bootId !== null && currentBootId !== null && bootId !== currentBootId) return 'reused';
    const leader = readProcessStat(groupId);
    if (leader && leaderStartTime !== null && leader.startTime !== leaderStartTime) return 'reused';
    return 'running';
  });
  const live = liveGroups(
    identities.filter((_, index) => states[index] === 'running').map(({ groupId }) => groupId),
  );
  return states.map((state, index) =>
    state === 'running' && !live.has(identities[index]!.groupId) ? 'gone' : state,
  );
}

export function leftoverGroupState(identity: ProcessGroupIdentity): LeftoverGroupState {
  return leftoverGroupStates([identity])[0]!;
}

/** Resolves with the groups still alive when `timeoutMs` is over (none if all ended before). */
async function waitForGroupsExit(
  groupIds: readonly number[],
  timeoutMs: number,
): Promise<Set<number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = liveGroups(groupIds);
    if (live.size === 0 || Date.now() >= deadline) return live;
    // No event tells when a whole process group is gone, so this one place polls.
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/**
 * Ends every process of these groups: SIGTERM, then SIGKILL to whatever is left after `graceMs`.
 * Resolves with the last signal each group needed.
 */
export async function terminateGroups(
  groupIds: readonly number[],
  graceMs: number,
): Promise<Map<number, 'SIGTERM' | 'SIGKILL'>> {
  const signals = new Map<number, 'SIGTERM' | 'SIGKILL'>(
    groupIds.map((groupId) => [groupId, 'SIGTERM']),
  );
  const signalled = groupIds.filter((groupId) => signalGroup(groupId, 'SIGTERM'));
  const stubborn = await waitForGroupsExit(signalled, graceMs);
  if (stubborn.size === 0) return signals;
  for (const groupId of stubborn) {
    signalGroup(groupId, 'SIGKILL');
    signals.set(groupId, 'SIGKILL');
  }
  await waitForGroupsExit([...stubborn], afterKillWaitMs);
  return signals;
}

/**
 * Ends every process of the group: SIGTERM, then SIGKILL to whatever is left after `graceMs`.
 * Resolves with the last signal that was needed.
 */
export async function terminateGroup(
  groupId: number,
  graceMs: number,
): Promise<'SIGTERM' | 'SIGKILL'> {
  return (await terminateGroups([groupId], graceMs)).get(groupId) ?? 'SIGTERM';
}
