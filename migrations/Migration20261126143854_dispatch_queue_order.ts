import { Migration } from '@mikro-orm/migrations';

export class Migration20261126143854_dispatch_queue_order extends Migration {

  override name = 'Migration20261126143854_dispatch_queue_order';

  override up(): void | Promise<void> {
    this.addSql(`drop index "task_instances_dispatch_queue";`);
    this.addSql(`create index "task_instances_dispatch_queue" on "task_instances" ("priority" DESC, "id") include ("task_id") where status = 10;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_dispatch_queue";`);
    this.addSql(`create index "task_instances_dispatch_queue" on "task_instances" ("status", "priority", "id");`);
  }

}
