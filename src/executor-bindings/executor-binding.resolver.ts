import { Resolver } from 'type-graphql';
import { ExecutorBinding } from './executor-binding.entity.js';

@Resolver(() => ExecutorBinding)
export class ExecutorBindingResolver {}
