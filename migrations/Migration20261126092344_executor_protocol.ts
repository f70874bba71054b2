import { Migration } from '@mikro-orm/migrations';

export class Migration20261126092344_executor_protocol extends Migration {

  override name = 'Migration20261126092344_executor_protocol';

  override up(): void | Promise<void> {
    this.addSql(`create table "executor_token_uses" ("jti" varchar(128) not null, "executor_id" int not null, "expires_at" timestamptz not null, primary key ("jti"));`);
    this.addSql(`create index "executor_token_uses_expires_at_index" on "executor_token_uses" ("expires_at");`);

    this.addSql(`create table "enrollment_tokens" ("id" serial primary key, "token_hash" varchar(64) not null, "group_id" int null, "created_by_id" int null, "expires_at" timestamptz not null, "used_at" timestamptz null, "used_by_executor_id" int null, "created_at" timestamptz not null default now());`);
    this.addSql(`alter table "enrollment_tokens" add constraint "enrollment_tokens_token_hash_unique" unique ("token_hash");`);

    this.addSql(`alter table "tasks" drop constraint "tasks_kind_check";`);
    this.addSql(`alter table "tasks" add "env" jsonb not null default '{}', add "working_directory" text null, add "http_request" jsonb null, add "expected_exit_code" int not null default 0, add "expected_output" text null;`);
    this.addSql(`alter table "tasks" add constraint "tasks_kind_check" check ("kind" in ('SHELL', 'HTTP'));`);

    this.addSql(`alter table "task_instances" drop constraint "task_instances_kind_check";`);
    this.addSql(`alter table "task_instances" add "env" jsonb not null default '{}', add "working_directory" text null, add "http_request" jsonb null, add "expected_exit_code" int not null default 0, add "expected_output" text null, add "dispatched_at" timestamptz null, add "acknowledged_at" timestamptz null, add "cancel_requested_at" timestamptz null, add "duration_ms" int null, add "result" text null, add "status_reason" text null;`);
    this.addSql(`create index "task_instances_executor_id_status_index" on "task_instances" ("executor_id", "status");`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_kind_check" check ("kind" in ('SHELL', 'HTTP'));`);

    this.addSql(`alter table "enrollment_tokens" add constraint "enrollment_tokens_group_id_foreign" foreign key ("group_id") references "executor_groups" ("id") on delete cascade;`);
    this.addSql(`alter table "enrollment_tokens" add constraint "enrollment_tokens_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on delete set null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "executor_token_uses" cascade;`);
    this.addSql(`drop table if exists "enrollment_tokens" cascade;`);

    this.addSql(`drop index "task_instances_executor_id_status_index";`);
    this.addSql(`alter table "task_instances" drop constraint "task_instances_kind_check";`);
    this.addSql(`alter table "task_instances" drop column "env", drop column "working_directory", drop column "http_request", drop column "expected_exit_code", drop column "expected_output", drop column "dispatched_at", drop column "acknowledged_at", drop column "cancel_requested_at", drop column "duration_ms", drop column "result", drop column "status_reason";`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_kind_check" check ("kind" in ('SHELL'));`);

    this.addSql(`alter table "tasks" drop constraint "tasks_kind_check";`);
    this.addSql(`alter table "tasks" drop column "env", drop column "working_directory", drop column "http_request", drop column "expected_exit_code", drop column "expected_output";`);
    this.addSql(`alter table "tasks" add constraint "tasks_kind_check" check ("kind" in ('SHELL'));`);
  }

}
