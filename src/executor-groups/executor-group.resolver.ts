import { Resolver } from 'type-graphql';
import { ExecutorGroup } from './executor-group.entity.js';

@Resolver(() => ExecutorGroup)
export class ExecutorGroupResolver {}
