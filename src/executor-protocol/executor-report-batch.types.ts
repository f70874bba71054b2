import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum ExecutorReportKind {
  ACKNOWLEDGED = 'ACKNOWLEDGED',
  STARTED = 'STARTED',
  LOGS = 'LOGS',
  FINISHED = 'FINISHED',
}

registerEnumType(ExecutorReportKind, { name: 'ExecutorReportKind' });

@ObjectType({
  description: 'A report the server will never accept (sending it again cannot help): drop it.',
})
export class RefusedReport {
  @Field(() => ExecutorReportKind)
  kind!: ExecutorReportKind;

  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => String, {
    description:
      'CONFLICT (superseded attempt, or another executor’s run), NOT_FOUND or BAD_USER_INPUT.',
  })
  code!: string;

  @Field(() => String)
  message!: string;

  @Field(() => String, { nullable: true, description: 'The refused input field, if one.' })
  field!: string | null;
}

@ObjectType()
export class ExecutorReportBatchResult {
  @Field(() => [RefusedReport], {
    description: 'Refused reports; every other report is applied (or was already).',
  })
  refused!: RefusedReport[];

  @Field(() => Int, { description: 'Log chunks stored by this call.' })
  storedLogChunks!: number;

  @Field(() => Int, { description: 'Log chunks already stored before (a replay).' })
  duplicateLogChunks!: number;
}
