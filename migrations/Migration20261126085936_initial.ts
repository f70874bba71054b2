import { Migration } from '@mikro-orm/migrations';

export class Migration20261126085936_initial extends Migration {

  override name = 'Migration20261126085936_initial';

  override up(): void | Promise<void> {
    this.addSql(`create table "audit_entries" ("id" bigserial primary key, "actor_id" int null, "actor_name" varchar(100) not null, "action" varchar(64) not null, "entity_type" varchar(64) not null, "entity_id" varchar(64) not null, "changes" jsonb not null, "request_id" varchar(64) null, "created_at" timestamptz not null default now());`);
    this.addSql(`create index "audit_entries_actor_id_index" on "audit_entries" ("actor_id");`);
    this.addSql(`create index "audit_entries_action_index" on "audit_entries" ("action");`);
    this.addSql(`create index "audit_entries_created_at_index" on "audit_entries" ("created_at");`);
    this.addSql(`create index "audit_entries_entity_type_entity_id_index" on "audit_entries" ("entity_type", "entity_id");`);

    this.addSql(`create table "executors" ("id" serial primary key, "name" varchar(100) not null, "description" text not null default '', "tag" varchar(100) not null default '', "host" varchar(300) not null, "machine_id" smallint not null, "public_key" text null, "is_enabled" boolean not null default true, "is_online" boolean not null default false, "last_heartbeat_at" timestamptz null, "capacity" int not null default 4, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`);
    this.addSql(`alter table "executors" add constraint "executors_name_unique" unique ("name");`);
    this.addSql(`alter table "executors" add constraint "executors_machine_id_unique" unique ("machine_id");`);

    this.addSql(`create table "login_throttles" ("key" varchar(200) not null, "failures" int not null, "window_started_at" timestamptz not null, primary key ("key"));`);

    this.addSql(`create table "server_nodes" ("machine_id" smallint not null, "lease_holder" uuid not null, "hostname" varchar(300) not null, "lease_expires_at" timestamptz not null, primary key ("machine_id"));`);

    this.addSql(`create table "signing_keys" ("kid" varchar(64) not null, "private_key_pem" text not null, "created_at" timestamptz not null default now(), primary key ("kid"));`);

    this.addSql(`create table "users" ("id" serial primary key, "username" varchar(64) not null, "nick_name" varchar(100) null, "email" varchar(254) null, "mobile" varchar(32) null, "avatar_url" varchar(2048) null, "role" text not null default 'USER', "is_enabled" boolean not null default true, "password_hash" text not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`);
    this.addSql(`alter table "users" add constraint "users_username_unique" unique ("username");`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
    this.addSql(`alter table "users" add constraint "users_mobile_unique" unique ("mobile");`);

    this.addSql(`create table "tasks" ("id" serial primary key, "name" varchar(100) not null, "description" text not null default '', "kind" text not null default 'SHELL', "command" text not null, "cron_expression" varchar(200) null, "time_zone" varchar(64) not null default 'UTC', "frequency" text not null default 'REPEAT', "frequency_times" int null, "timeout_seconds" int not null default 3600, "retry_times" int not null default 0, "retry_interval_seconds" int not null default 10, "max_parallel_runs" int not null default 1, "tag" varchar(100) not null default '', "routing_strategy" text not null default 'ROUND_ROBIN', "is_enabled" boolean not null default true, "next_fire_at" timestamptz null, "owner_id" int null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`);
    this.addSql(`create index "tasks_next_fire_at_index" on "tasks" ("next_fire_at");`);

    this.addSql(`create table "task_instances" ("id" bigint not null, "task_id" int null, "task_name" varchar(100) not null, "kind" text not null, "command" text not null, "cron_expression" varchar(200) null, "time_zone" varchar(64) not null, "timeout_seconds" int not null, "retry_times" int not null, "max_parallel_runs" int not null, "tag" varchar(100) not null, "trigger" text not null, "scheduled_at" timestamptz null, "status" smallint not null default 10, "attempt" int not null default 1, "exit_code" int null, "executor_id" int null, "executor_name" varchar(100) null, "executor_host" varchar(300) null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "task_instances_status_index" on "task_instances" ("status");`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_task_scheduled_unique" unique ("task_id", "scheduled_at");`);

    this.addSql(`create table "task_logs" ("id" bigserial primary key, "instance_id" bigint not null, "attempt" int not null, "seq" int not null, "stream" text not null, "content" text not null, "emitted_at" timestamptz not null, "created_at" timestamptz not null default now());`);
    this.addSql(`alter table "task_logs" add constraint "task_logs_instance_id_attempt_seq_unique" unique ("instance_id", "attempt", "seq");`);

    this.addSql(`create table "sessions" ("id" uuid not null, "user_id" int not null, "refresh_token_hash" varchar(64) not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "created_at" timestamptz not null default now(), primary key ("id"));`);
    this.addSql(`alter table "sessions" add constraint "sessions_refresh_token_hash_unique" unique ("refresh_token_hash");`);
    this.addSql(`create index "sessions_revoked_at_index" on "sessions" ("revoked_at");`);

    this.addSql(`create table "executor_groups" ("id" serial primary key, "name" varchar(100) not null, "description" text not null default '', "tag" varchar(100) not null default '', "owner_id" int null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`);
    this.addSql(`alter table "executor_groups" add constraint "executor_groups_name_unique" unique ("name");`);

    this.addSql(`create table "executor_bindings" ("id" serial primary key, "name" varchar(100) not null, "group_id" int not null, "executor_id" int not null, "weight" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`);
    this.addSql(`alter table "executor_bindings" add constraint "executor_bindings_group_id_executor_id_unique" unique ("group_id", "executor_id");`);

    this.addSql(`create table "task_bindings" ("task_id" int not null, "binding_id" int not null, primary key ("task_id", "binding_id"));`);

    this.addSql(`create table "api_tokens" ("id" serial primary key, "user_id" int not null, "name" varchar(100) not null, "token_hash" varchar(64) not null, "prefix" varchar(16) not null, "expires_at" timestamptz null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null default now());`);
    this.addSql(`alter table "api_tokens" add constraint "api_tokens_token_hash_unique" unique ("token_hash");`);

    this.addSql(`alter table "users" add constraint "users_role_check" check ("role" in ('ADMIN', 'USER', 'GUEST'));`);

    this.addSql(`alter table "tasks" add constraint "tasks_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on delete set null;`);
    this.addSql(`alter table "tasks" add constraint "tasks_kind_check" check ("kind" in ('SHELL'));`);
    this.addSql(`alter table "tasks" add constraint "tasks_frequency_check" check ("frequency" in ('ONCE', 'TIMES', 'REPEAT'));`);
    this.addSql(`alter table "tasks" add constraint "tasks_routing_strategy_check" check ("routing_strategy" in ('RANDOM', 'ROUND_ROBIN', 'WEIGHTED', 'LEAST_LOADED', 'FAILOVER', 'BROADCAST'));`);

    this.addSql(`alter table "task_instances" add constraint "task_instances_task_id_foreign" foreign key ("task_id") references "tasks" ("id") on delete set null;`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_kind_check" check ("kind" in ('SHELL'));`);
    this.addSql(`alter table "task_instances" add constraint "task_instances_trigger_check" check ("trigger" in ('CRON', 'MANUAL'));`);

    this.addSql(`alter table "task_logs" add constraint "task_logs_instance_id_foreign" foreign key ("instance_id") references "task_instances" ("id") on delete cascade;`);
    this.addSql(`alter table "task_logs" add constraint "task_logs_stream_check" check ("stream" in ('STDOUT', 'STDERR'));`);

    this.addSql(`alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);

    this.addSql(`alter table "executor_groups" add constraint "executor_groups_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on delete set null;`);

    this.addSql(`alter table "executor_bindings" add constraint "executor_bindings_group_id_foreign" foreign key ("group_id") references "executor_groups" ("id") on delete no action;`);
    this.addSql(`alter table "executor_bindings" add constraint "executor_bindings_executor_id_foreign" foreign key ("executor_id") references "executors" ("id") on delete no action;`);

    this.addSql(`alter table "task_bindings" add constraint "task_bindings_task_id_foreign" foreign key ("task_id") references "tasks" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "task_bindings" add constraint "task_bindings_binding_id_foreign" foreign key ("binding_id") references "executor_bindings" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "api_tokens" add constraint "api_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "executor_bindings" drop constraint "executor_bindings_executor_id_foreign";`);
    this.addSql(`alter table "tasks" drop constraint "tasks_owner_id_foreign";`);
    this.addSql(`alter table "sessions" drop constraint "sessions_user_id_foreign";`);
    this.addSql(`alter table "executor_groups" drop constraint "executor_groups_owner_id_foreign";`);
    this.addSql(`alter table "api_tokens" drop constraint "api_tokens_user_id_foreign";`);
    this.addSql(`alter table "task_instances" drop constraint "task_instances_task_id_foreign";`);
    this.addSql(`alter table "task_bindings" drop constraint "task_bindings_task_id_foreign";`);
    this.addSql(`alter table "task_logs" drop constraint "task_logs_instance_id_foreign";`);
    this.addSql(`alter table "executor_bindings" drop constraint "executor_bindings_group_id_foreign";`);
    this.addSql(`alter table "task_bindings" drop constraint "task_bindings_binding_id_foreign";`);

    this.addSql(`drop table if exists "audit_entries" cascade;`);
    this.addSql(`drop table if exists "executors" cascade;`);
    this.addSql(`drop table if exists "login_throttles" cascade;`);
    this.addSql(`drop table if exists "server_nodes" cascade;`);
    this.addSql(`drop table if exists "signing_keys" cascade;`);
    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "tasks" cascade;`);
    this.addSql(`drop table if exists "task_instances" cascade;`);
    this.addSql(`drop table if exists "task_logs" cascade;`);
    this.addSql(`drop table if exists "sessions" cascade;`);
    this.addSql(`drop table if exists "executor_groups" cascade;`);
    this.addSql(`drop table if exists "executor_bindings" cascade;`);
    this.addSql(`drop table if exists "task_bindings" cascade;`);
    this.addSql(`drop table if exists "api_tokens" cascade;`);
  }

}
