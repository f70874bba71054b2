import { Migration } from '@mikro-orm/migrations';

export class Migration20261128023223_dispatch_queue_by_task extends Migration {

  override name = 'Migration20261128023223_dispatch_queue_by_task';

  override up(): void | Promise<void> {
    this.addSql(`drop index "task_instances_dispatch_queue";`);
    this.addSql(`create index "task_instances_dispatch_queue_by_task" on "task_instances" ("task_id", "broadcast_executor_id", "priority" DESC, "id") where status = 10;`);
    this.addSql(`create index "task_instances_dispatch_queue" on "task_instances" ("priority" DESC, "id") include ("task_id") where status = 10 and broadcast_executor_id >= 0;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_dispatch_queue_by_task";`);
    this.addSql(`drop index "task_instances_dispatch_queue";`);
    this.addSql(`create index "task_instances_dispatch_queue" on "task_instances" ("priority" DESC, "id") include ("task_id") where status = 10;`);
  }

}
