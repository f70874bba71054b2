import { Arg, Authorized, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import { CreatedEnrollmentToken } from '../executor-protocol/executor-report.types.js';
import { RegisterExecutorInput } from '../executor-protocol/executor-report.inputs.js';
import type { RequestContext } from '../server/context.js';
import { UserRole } from '../users/user-role.js';
import { Executor } from './executor.entity.js';

@Resolver()
export class EnrollmentResolver {
  @Authorized(UserRole.ADMIN)
  @Mutation(() => CreatedEnrollmentToken, {
    description:
      'A one-time token with which a new executor registers itself (`registerExecutor`).',
  })
  createEnrollmentToken(
    @Arg('groupId', () => ID, {
      nullable: true,
      description: 'Bind the new executor into this group.',
    })
    groupId: string | null | undefined,
    @Arg('expiresInSeconds', () => Int, { defaultValue: 3600, description: '60..2592000.' })
    expiresInSeconds: number,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatedEnrollmentToken> {
    return ctx.services.enrollment.createToken(ctx, groupId, expiresInSeconds);
  }

  @Mutation(() => Executor, {
    description:
      'Called by `graphcron-executor register`: the enrollment token authorises it, once. The ' +
      'private key stays on the executor; only its public key is sent.',
  })
  registerExecutor(
    @Arg('input', () => RegisterExecutorInput) input: RegisterExecutorInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Executor> {
    return ctx.services.enrollment.register(ctx, input);
  }
}
