import { Migration } from '@mikro-orm/migrations';

export class Migration20261127172655_broadcast_tasks_index extends Migration {

  override name = 'Migration20261127172655_broadcast_tasks_index';

  override up(): void | Promise<void> {
    this.addSql(`create index "tasks_broadcast" on "tasks" ("id") where routing_strategy = 'BROADCAST';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "tasks_broadcast";`);
  }

}
