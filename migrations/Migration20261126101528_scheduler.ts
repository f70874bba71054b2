import { Migration } from '@mikro-orm/migrations';

export class Migration20261126101528_scheduler extends Migration {

  override name = 'Migration20261126101528_scheduler';

  override up(): void | Promise<void> {
    this.addSql(`create table "task_instance_attempts" ("id" bigserial primary key, "instance_id" bigint not null, "attempt" int not null, "status" smallint not null, "exit_code" int null, "executor_id" int null, "executor_name" varchar(100) null, "dispatched_at" timestamptz null, "started_at" timestamptz null, "finished_at" timestamptz null, "status_reason" text null);`);
    this.addSql(`alter table "task_instance_attempts" add constraint "task_instance_attempts_instance_id_attempt_unique" unique ("instance_id", "attempt");`);

    this.addSql(`alter table "tasks" add "misfire_policy" text not null default 'SKIP', add "overlap_policy" text not null default 'SKIP', add "retry_backoff" text not null default 'FIXED', add "retry_max_interval_seconds" int not null default 3600, add "priority" int not null default 0, add "max_wait_seconds" int null, add "active_from" timestamptz null, add "active_until" timestamptz null, add "fired_count" int not null default 0;`);
    this.addSql(`alter table "tasks" add constraint "tasks_misfire_policy_check" check ("misfire_policy" in ('SKIP', 'FIRE_ONCE'));`);
    this.addSql(`alter table "tasks" add constraint "tasks_overlap_policy_check" check ("overlap_policy" in ('SKIP', 'WAIT'));`);
    this.addSql(`alter table "tasks" add constraint "tasks_retry_backoff_check" check ("retry_backoff" in ('FIXED', 'EXPONENTIAL'));`);

    this.addSql(`alter table "task_instances" drop constraint "task_instances_task_scheduled_unique";`);
    this.addSql(`alter table "task_instances" add "priority" int not null default 0, add "broadcast_executor_id" int not null default 0, add "available_at" timestamptz null, add "dispatch_deadline" timestamptz null, add "retry_count" int not null default 0, add "retry_interval_seconds" int not null default 10, add "retry_backoff" text not null default 'FIXED', add "retry_max_interval_seconds" int not null default 3600;`);
    this.addSql(`create index "task_instances_created_at_index" on "task_instances" ("created_at");`);
    this.addSql(`create index "task_instances_dispatch_queue" on "task_instances" ("status", "priority", "id");`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_task_scheduled_unique" unique ("task_id", "scheduled_at", "broadcast_executor_id");`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_retry_backoff_check" check ("retry_backoff" in ('FIXED', 'EXPONENTIAL'));`);

    this.addSql(`alter table "task_instance_attempts" add constraint "task_instance_attempts_instance_id_foreign" foreign key ("instance_id") references "task_instances" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "task_instance_attempts" cascade;`);

    this.addSql(`drop index "task_instances_created_at_index";`);
    this.addSql(`drop index "task_instances_dispatch_queue";`);
    this.addSql(`alter table "task_instances" drop constraint "task_instances_task_scheduled_unique";`);
    this.addSql(`alter table "task_instances" drop constraint "task_instances_retry_backoff_check";`);
    this.addSql(`alter table "task_instances" drop column "priority", drop column "broadcast_executor_id", drop column "available_at", drop column "dispatch_deadline", drop column "retry_count", drop column "retry_interval_seconds", drop column "retry_backoff", drop column "retry_max_interval_seconds";`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_task_scheduled_unique" unique ("task_id", "scheduled_at");`);

    this.addSql(`alter table "tasks" drop constraint "tasks_misfire_policy_check";`);
    this.addSql(`alter table "tasks" drop constraint "tasks_overlap_policy_check";`);
    this.addSql(`alter table "tasks" drop constraint "tasks_retry_backoff_check";`);
    this.addSql(`alter table "tasks" drop column "misfire_policy", drop column "overlap_policy", drop column "retry_backoff", drop column "retry_max_interval_seconds", drop column "priority", drop column "max_wait_seconds", drop column "active_from", drop column "active_until", drop column "fired_count";`);
  }

}
