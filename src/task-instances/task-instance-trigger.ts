import { registerEnumType } from 'type-graphql';

export enum TaskInstanceTrigger {
  CRON = 'CRON',
  MANUAL = 'MANUAL',
}

registerEnumType(TaskInstanceTrigger, {
  name: 'TaskInstanceTrigger',
  description: 'What created a run.',
  valuesConfig: {
    CRON: { description: 'A scheduled fire of the task.' },
    MANUAL: { description: 'A user asked for it (`runTask`).' },
  },
});
