/**
 * SQL literals for statements sent without bind parameters (several statements in one round
 * trip: DedicatedConnection). Only numbers and arrays of ids, checked here: never text.
 */

/** An integer, as a literal. */
export function intLiteral(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/** An int4 array, e.g. `'{1,2}'::int[]`. */
export function intArrayLiteral(values: readonly number[]): string {
  return `'{${values.map(intLiteral).join(',')}}'::int[]`;
}

/** A bigint (carried as a decimal string), as a literal. */
export function bigintLiteral(value: string): string {
  if (!/^-?\d{1,19}$/.test(value)) throw new TypeError(`not a bigint: ${value}`);
  return `${value}::bigint`;
}

/** A bigint array (decimal strings), e.g. `'{1,2}'::bigint[]`. */
export function bigintArrayLiteral(values: readonly string[]): string {
  for (const value of values) bigintLiteral(value);
  return `'{${values.join(',')}}'::bigint[]`;
}
