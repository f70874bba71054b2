import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The process group of a run's command, as the executor's run journal names it once the command
 * is spawned (the first entry that names one); undefined until then.
 */
export function journaledProcessGroup(stateDir: string): number | undefined {
  const log = path.join(stateDir, 'runs', 'journal.jsonl');
  if (!existsSync(log)) return undefined;
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { put?: { processGroup?: { groupId: number } } })
    .find((record) => record.put?.processGroup)?.put?.processGroup?.groupId;
}

/** Waits until the journal names a run's process group, and returns it. */
export async function waitForJournaledProcessGroup(stateDir: string): Promise<number> {
  for (;;) {
    const groupId = journaledProcessGroup(stateDir);
    if (groupId !== undefined) return groupId;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
