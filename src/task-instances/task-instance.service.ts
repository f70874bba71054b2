import type { SnowflakeGenerator } from '../shared/snowflake.js';

/** Rules and transactions for TaskInstance. */
export class TaskInstanceService {
  constructor(private readonly ids: SnowflakeGenerator) {}
}
