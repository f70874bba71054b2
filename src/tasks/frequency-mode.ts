import { registerEnumType } from 'type-graphql';

export enum FrequencyMode {
  ONCE = 'ONCE',
  TIMES = 'TIMES',
  REPEAT = 'REPEAT',
}

registerEnumType(FrequencyMode, {
  name: 'FrequencyMode',
  description: 'How many scheduled fires a task gets.',
  valuesConfig: {
    ONCE: { description: 'The next fire only, then the schedule stops.' },
    TIMES: { description: '`frequencyTimes` fires, then the schedule stops.' },
    REPEAT: { description: 'Every fire of the cron expression, indefinitely.' },
  },
});
