import { Migration } from '@mikro-orm/migrations';

export class Migration20261126145903_delayed_runs_index extends Migration {

  override name = 'Migration20261126145903_delayed_runs_index';

  override up(): void | Promise<void> {
    this.addSql(`create index "task_instances_delayed" on "task_instances" ("available_at") where status = 10 and available_at is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_delayed";`);
  }

}
