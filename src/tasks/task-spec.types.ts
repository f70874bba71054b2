import { Field, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One environment variable of a run.' })
@InputType('EnvironmentVariableInput')
export class EnvironmentVariable {
  @Field(() => String, {
    description: 'A POSIX name: letters, digits and `_`, not starting with a digit.',
  })
  name!: string;

  @Field(() => String)
  value!: string;
}

@ObjectType()
@InputType('HttpHeaderInput')
export class HttpHeader {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  value!: string;
}

@ObjectType({
  description: 'The request an HTTP task makes, and the answers that count as success.',
})
export class HttpRequest {
  @Field(() => String, { description: 'GET, POST, PUT, PATCH, DELETE or HEAD.' })
  method!: string;

  @Field(() => String, { description: 'An absolute http(s) URL.' })
  url!: string;

  @Field(() => [HttpHeader])
  headers!: HttpHeader[];

  @Field(() => String, { nullable: true })
  body!: string | null;

  @Field(() => [Int], { description: 'Response statuses that end the run FINISHED.' })
  expectedStatusCodes!: number[];
}

@InputType()
export class HttpRequestInput {
  @Field(() => String, { defaultValue: 'GET' })
  method: string = 'GET';

  @Field(() => String)
  url!: string;

  @Field(() => [HttpHeader], { nullable: true })
  headers?: HttpHeader[] | null;

  @Field(() => String, { nullable: true })
  body?: string | null;

  @Field(() => [Int], { nullable: true, description: 'Default: any 2xx status.' })
  expectedStatusCodes?: number[] | null;
}
