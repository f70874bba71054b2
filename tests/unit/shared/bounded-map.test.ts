import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../../src/shared/bounded-map.js';

describe('BoundedMap', () => {
  it('forgets the oldest entry once it holds more than its limit', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('c', 3);
    expect([...map]).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('makes a key set again the newest, so it is forgotten last', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('a', 10).set('c', 3);
    expect([...map]).toEqual([
      ['a', 10],
      ['c', 3],
    ]);
  });
});
