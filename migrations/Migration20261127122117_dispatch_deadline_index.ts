import { Migration } from '@mikro-orm/migrations';

export class Migration20261127122117_dispatch_deadline_index extends Migration {

  override name = 'Migration20261127122117_dispatch_deadline_index';

  override up(): void | Promise<void> {
    this.addSql(`create index "task_instances_dispatch_deadline" on "task_instances" ("dispatch_deadline") where status = 10 and dispatch_deadline is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "task_instances_dispatch_deadline";`);
  }

}
