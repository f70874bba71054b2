import { registerEnumType } from 'type-graphql';

export enum LogStream {
  STDOUT = 'STDOUT',
  STDERR = 'STDERR',
}

registerEnumType(LogStream, {
  name: 'LogStream',
  description: 'Which output a log chunk came from.',
});
