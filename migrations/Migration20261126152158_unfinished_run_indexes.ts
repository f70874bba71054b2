import { Migration } from '@mikro-orm/migrations';

export class Migration20261126152158_unfinished_run_indexes extends Migration {

  override name = 'Migration20261126152158_unfinished_run_indexes';

  override up(): void | Promise<void> {
    this.addSql(`create index "task_instances_in_flight" on "task_instances" ("executor_id", "task_id") where status in (11, 1);`);
    this.addSql(`create index "task_instances_unfinished_by_task" on "task_instances" ("task_id") where status in (10, 11, 1);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_in_flight";`);
    this.addSql(`drop index "task_instances_unfinished_by_task";`);
  }

}
