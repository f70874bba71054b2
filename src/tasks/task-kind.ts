import { registerEnumType } from 'type-graphql';

export enum TaskKind {
  SHELL = 'SHELL',
  HTTP = 'HTTP',
}

registerEnumType(TaskKind, {
  name: 'TaskKind',
  valuesConfig: {
    SHELL: {
      description: 'A command run by `/bin/sh -c` on the executor, in its own process group.',
    },
    HTTP: { description: 'An HTTP request made by the executor (`httpRequest`).' },
  },
});
