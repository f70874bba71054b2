import { registerEnumType } from 'type-graphql';

/** How a run picks an executor among the task's bindings. */
export enum RoutingStrategy {
  RANDOM = 'RANDOM',
  ROUND_ROBIN = 'ROUND_ROBIN',
  WEIGHTED = 'WEIGHTED',
  LEAST_LOADED = 'LEAST_LOADED',
  FAILOVER = 'FAILOVER',
  BROADCAST = 'BROADCAST',
}

registerEnumType(RoutingStrategy, {
  name: 'RoutingStrategy',
  description: 'How a run picks an online, enabled executor with free capacity.',
  valuesConfig: {
    RANDOM: { description: 'Any eligible executor, uniformly.' },
    ROUND_ROBIN: { description: 'Each eligible executor in turn.' },
    WEIGHTED: { description: 'At random, in proportion to binding weight.' },
    LEAST_LOADED: { description: 'The executor with the fewest running instances.' },
    FAILOVER: { description: 'The first eligible executor in binding order.' },
    BROADCAST: { description: 'One instance per eligible executor.' },
  },
});
