import { readFileSync } from 'node:fs';

/**
 * True while the process runs. A zombie counts as gone: where PID 1 does not reap orphans (as in
 * some containers), a killed orphan stays a zombie and `kill(pid, 0)` still succeeds.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return true; // No /proc: kill(pid, 0) is all we know.
  }
}
