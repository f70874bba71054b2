import { Resolver } from 'type-graphql';
import { Executor } from './executor.entity.js';

@Resolver(() => Executor)
export class ExecutorResolver {}
