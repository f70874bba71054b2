/** 2025-01-01T00:00:00Z: 41 bits of milliseconds from here last until 2094. */
export const snowflakeEpochMs = 1_735_689_600_000;
const maxMachineId = 1023;
const maxSequence = 4095;

/**
 * 64-bit ids: 41 bits of milliseconds, 10 bits of machine id, 12 bits of sequence; ordered by
 * creation time within a machine, unique across machines with distinct ids. If the wall clock
 * steps back, the generator keeps counting from the last time it used, so ids never repeat.
 */
export class SnowflakeGenerator {
  private lastMs = 0;
  private sequence = 0;

  constructor(
    readonly machineId: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(machineId) || machineId < 0 || machineId > maxMachineId) {
      throw new RangeError(`machine id must be 0..${maxMachineId}, got ${machineId}`);
    }
  }

  next(): string {
    const now = Math.max(this.now() - snowflakeEpochMs, this.lastMs);
    if (now === this.lastMs) {
      this.sequence = (this.sequence + 1) & maxSequence;
      if (this.sequence === 0) this.lastMs = now + 1; // 4096 ids this millisecond: borrow the next.
    } else {
      this.lastMs = now;
      this.sequence = 0;
    }
    const id =
      (BigInt(this.lastMs) << 22n) | (BigInt(this.machineId) << 12n) | BigInt(this.sequence);
    return id.toString();
  }
}

/** The creation time encoded in a snowflake id. */
export function snowflakeTime(id: string): Date {
  return new Date(Number(BigInt(id) >> 22n) + snowflakeEpochMs);
}
