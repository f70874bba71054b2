import { registerEnumType } from 'type-graphql';

export enum TaskKind {
  SHELL = 'SHELL',
}

registerEnumType(TaskKind, {
  name: 'TaskKind',
  valuesConfig: { SHELL: { description: 'A command run by `/bin/sh -c` on the executor.' } },
});
