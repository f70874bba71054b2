import { Migration } from '@mikro-orm/migrations';

export class Migration20261128082404_task_instance_index_versions extends Migration {

  override name = 'Migration20261128082404_task_instance_index_versions';

  override up(): void | Promise<void> {
    this.addSql(`drop index "task_instances_executor_id_status_index";`);
    this.addSql(`drop index "task_instances_status_index";`);
    this.addSql(`alter table "task_instances" drop constraint "task_instances_task_scheduled_unique";`);
    this.addSql(`create index "task_instances_ended_unsuccessfully" on "task_instances" ("id") where status in (3, 4, 5, 81, 12);`);
    this.addSql(`create index "task_instances_by_executor" on "task_instances" ("executor_id", "id") where executor_id is not null;`);
    this.addSql(`create unique index "task_instances_task_scheduled_unique" on "task_instances" ("task_id", "scheduled_at", "broadcast_executor_id") where scheduled_at is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_ended_unsuccessfully";`);
    this.addSql(`drop index "task_instances_by_executor";`);
    this.addSql(`drop index "task_instances_task_scheduled_unique";`);
    this.addSql(`create index "task_instances_executor_id_status_index" on "task_instances" ("executor_id", "status");`);
    this.addSql(`create index "task_instances_status_index" on "task_instances" ("status");`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_task_scheduled_unique" unique ("task_id", "scheduled_at", "broadcast_executor_id");`);
  }

}
