import { describe, expect, it } from 'vitest';
import {
  bigintArrayLiteral,
  bigintLiteral,
  intArrayLiteral,
  intLiteral,
} from '../../../src/database/sql-literals.js';

describe('SQL literals (statements sent without bind parameters)', () => {
  it('writes integers, ids and arrays of them', () => {
    expect(intLiteral(-7)).toBe('-7');
    expect(intArrayLiteral([1, 22])).toBe(`'{1,22}'::int[]`);
    expect(intArrayLiteral([])).toBe(`'{}'::int[]`);
    expect(bigintLiteral('9223372036854775807')).toBe('9223372036854775807::bigint');
    expect(bigintArrayLiteral(['1', '2'])).toBe(`'{1,2}'::bigint[]`);
  });

  it('refuses anything that is not an integer, so nothing else can reach the SQL text', () => {
    expect(() => intLiteral(1.5)).toThrow(TypeError);
    expect(() => intLiteral(Number.NaN)).toThrow(TypeError);
    expect(() => intArrayLiteral([1, 2 ** 53])).toThrow(TypeError);
    expect(() => bigintLiteral('1; drop table tasks')).toThrow(TypeError);
    expect(() => bigintLiteral('')).toThrow(TypeError);
    expect(() => bigintArrayLiteral(['1', "2}'::bigint[]; select 1; --"])).toThrow(TypeError);
  });
});
