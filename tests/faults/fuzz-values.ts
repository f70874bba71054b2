import { generateKeyPairSync } from 'node:crypto';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';

/**
 * The cases of the bad-input fuzz pass (`fuzz.test.ts`), derived from the schema alone: a seeded
 * generator, what each field's description promises (its contract), the bad values for each kind
 * of input, and the request bodies that carry them, as JSON variables or inline literals. Nothing
 * here talks to a server.
 */

/** A number written exactly as given (2^53+1, 1e400, -0): JSON and GraphQL both take the text. */
export class RawNumber {
  constructor(readonly text: string) {}
}

export type FuzzValue =
  null | boolean | number | string | RawNumber | FuzzValue[] | { [key: string]: FuzzValue };

export type FuzzObject = { [key: string]: FuzzValue };

/** mulberry32: small, fast and deterministic, so that a seed reproduces a run. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }
  /** A short string of awkward code points: controls, RTL marks, combining marks, emoji. */
  awkwardString(): string {
    const pool = [0x1, 0x7, 0x1b, 0x7f, 0x85, 0x200e, 0x202e, 0x301, 0xfeff, 0xfffd, 0x1f600, 0x41];
    let text = '';
    for (let i = this.int(1, 24); i > 0; i--) text += String.fromCodePoint(this.pick(pool));
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Encodings

/** JSON text of a value (a RawNumber written as its text). */
export function toJson(value: FuzzValue | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (typeof value === 'object') {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value);
}

const nameShape = /^[_A-Za-z][_0-9A-Za-z]*$/;

/**
 * A GraphQL literal for `value`, guided by the type expected at that position so that enum
 * values are written bare; a value that does not fit its type is written as it is.
 */
export function toLiteral(value: FuzzValue, type: GraphQLInputType | undefined): string {
  const nullable = type ? getNullableType(type) : undefined;
  if (value === null) return 'null';
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) {
    const item = nullable && isListType(nullable) ? nullable.ofType : undefined;
    return `[${value.map((v) => toLiteral(v, item)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const fields = nullable && isInputObjectType(nullable) ? nullable.getFields() : {};
    const parts = Object.entries(value).map(([k, v]) => `${k}: ${toLiteral(v, fields[k]?.type)}`);
    return `{${parts.join(', ')}}`;
  }
  const bareEnum =
    typeof value === 'string' &&
    nullable !== undefined &&
    isEnumType(nullable) &&
    nameShape.test(value) &&
    !['true', 'false', 'null'].includes(value);
  // JSON string escapes are GraphQL string escapes (a lone surrogate's escape is a parse error:
  // one more bad input).
  return bareEnum
    ? String(value)
    : typeof value === 'string'
      ? JSON.stringify(value)
      : String(value);
}

export function describeValue(value: FuzzValue | undefined): string {
  const text = toJson(value);
  return text.length > 80 ? `${text.slice(0, 60)}…(${text.length} chars)` : text;
}

// ---------------------------------------------------------------------------------------------
// Contracts: what the schema's descriptions promise about a field

export interface Contract {
  intMin?: number;
  intMax?: number;
  minChars?: number;
  maxChars?: number;
  maxBytes?: number;
  maxItems?: number;
  /** The list takes each value once ("each once", "each name once"). */
  distinctItems?: boolean;
  /** Enum values the description names as the only ones allowed. */
  allowedEnumValues?: string[];
  /** A negative number is meaningless here (a duration, count, attempt or sequence number). */
  nonNegative?: boolean;
}

export interface FieldLike {
  name: string;
  description?: string | null | undefined;
  type: GraphQLInputType;
}

/** Names whose negative values mean nothing, documented or not. */
const negativeMeaningless = /(Seconds|Ms|^capacity$|^weight$|^attempt$|^seq$|Times$|^machineId$)/;

/** Reads a contract from a description: "1..100 characters", "At most 64 KiB", "0..255". */
function contractOf(field: FieldLike, inherited: Contract = {}): Contract {
  const text = field.description ?? '';
  const nullable = getNullableType(field.type);
  const named = getNamedType(field.type);
  const contract: Contract = { ...inherited };
  if (negativeMeaningless.test(field.name)) contract.nonNegative = true;
  const range = /(-?\d+)\.\.(-?\d+)( characters| of )?/.exec(text);
  if (isListType(nullable)) {
    const items = /at most (\d+)\b(?! KiB| characters)/i.exec(text);
    if (items) contract.maxItems = Number(items[1]);
    if (/each (\w+ )?once/i.test(text)) contract.distinctItems = true;
  } else if (named.name === 'Int' && range && !range[3]) {
    contract.intMin = Number(range[1]);
    contract.intMax = Number(range[2]);
  } else if (named.name === 'String' && !/longer is cut/i.test(text)) {
    if (range?.[3]) {
      contract.minChars = Number(range[1]);
      contract.maxChars = Number(range[2]);
    }
    const chars = /at most (\d+) characters/i.exec(text);
    if (chars) contract.maxChars = Number(chars[1]);
    const kib = /at most (\d+) KiB/i.exec(text);
    if (kib) contract.maxBytes = Number(kib[1]) * 1024;
  } else if (isEnumType(named)) {
    const mentioned = named
      .getValues()
      .map((v) => v.name)
      .filter((v) => new RegExp(`\\b${v}\\b`).test(text));
    if (mentioned.length >= 2) contract.allowedEnumValues = mentioned;
  }
  return contract;
}

/**
 * Contracts of every argument and input field, by owner (mutation or input type) and name. A
 * field of `UpdateXInput` inherits what `CreateXInput` documents for the same field, and an alias
 * (`Owner` or `Owner.field` → `Other` or `Other.field`) does the same for other pairs.
 */
export function collectContracts(
  schema: GraphQLSchema,
  aliases: Record<string, string>,
): (owner: string, field: FieldLike) => Contract {
  const documented = new Map<string, Contract>();
  const record = (owner: string, field: FieldLike) =>
    documented.set(`${owner}.${field.name}`, contractOf(field));
  for (const type of Object.values(schema.getTypeMap())) {
    if (isInputObjectType(type))
      for (const field of Object.values(type.getFields())) record(type.name, field);
  }
  for (const mutation of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    for (const arg of mutation.args) record(mutation.name, arg);
  }
  const sourceOf = (owner: string, name: string): Contract | undefined => {
    const alias = aliases[`${owner}.${name}`] ?? aliases[owner];
    const createOwner = owner.replace(/^Update(\w+)Input$/, 'Create$1Input');
    const from = alias?.includes('.') ? alias : `${alias ?? createOwner}.${name}`;
    return from === `${owner}.${name}` ? undefined : documented.get(from);
  };
  return (owner, field) => contractOf(field, sourceOf(owner, field.name));
}

// ---------------------------------------------------------------------------------------------
// Variants: the bad values for one input position

export interface Variant {
  label: string;
  value: FuzzValue;
  /** Why the server must refuse this value, or null when it may accept it. */
  mustFail: string | null;
  /** Over 64 KB: sent through one encoding only. */
  huge?: boolean;
}

/** Refused by GraphQL itself (coercion or validation), before any resolver runs. */
export const wrongType = 'a value of the wrong GraphQL type';

interface VariantContext {
  type: GraphQLInputType;
  name: string;
  contract: Contract;
  rng: Rng;
  /** A valid value of this position, for objects built around it. */
  baseline: FuzzValue;
  /** A valid item, when the position is a list. */
  itemBaseline: FuzzValue;
  /** Unknown but well-formed ids are fine here (e.g. a heartbeat's running instances). */
  unknownIdsAllowed: boolean;
}

const huge1MB = 'a'.repeat(1 << 20);
const hugeMultibyte = '€'.repeat(100_000);
const weakPublicKey = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const unknownIds = ['999999999', '2147483648', '9223372036854775807'];
const malformedIds = ['-1', '0', 'abc', '9'.repeat(40), ' 1', '1.0', '0x1F', '9223372036854775808'];

function tooLong(contract: Contract, value: string): string | null {
  if (contract.maxChars !== undefined && value.length > contract.maxChars)
    return `longer than the documented ${contract.maxChars} characters`;
  if (contract.maxBytes !== undefined && Buffer.byteLength(value) > contract.maxBytes)
    return `over the documented ${contract.maxBytes} bytes`;
  return null;
}

function outOfRange(contract: Contract, value: number): string | null {
  if (contract.intMin !== undefined && value < contract.intMin)
    return `below the documented ${contract.intMin}`;
  if (contract.intMax !== undefined && value > contract.intMax)
    return `above the documented ${contract.intMax}`;
  if (contract.nonNegative && value < 0) return 'a negative duration, count or sequence number';
  return null;
}

/**
 * The variants for one input position: the specific ones (its contract's limits, its domain:
 * cron, time zone, host, key) first, then a seeded sample of the generic ones; `cap` in all.
 */
function variantsFor(ctx: VariantContext, cap: number): Variant[] {
  const { type, rng } = ctx;
  const specific: Variant[] = [];
  const generic: Variant[] = [];
  if (isNonNullType(type))
    specific.push({ label: 'null for non-null', value: null, mustFail: wrongType });
  const nullable = getNullableType(type);
  if (isListType(nullable)) listVariants(ctx, specific, generic);
  else if (isInputObjectType(nullable)) objectVariants(ctx, specific, generic);
  else if (isEnumType(nullable)) enumVariants(nullable.getValues(), ctx, specific, generic);
  else if (isScalarType(nullable)) scalarVariants(nullable.name, ctx, specific, generic);
  const kept = specific.slice(0, cap);
  return [...kept, ...rng.shuffle(generic).slice(0, Math.max(0, cap - kept.length))];
}

function listVariants(ctx: VariantContext, specific: Variant[], generic: Variant[]): void {
  const { contract, itemBaseline: item } = ctx;
  const hugeCount = 10_000;
  const tooMany = (count: number) =>
    contract.maxItems !== undefined && count > contract.maxItems
      ? `more than the documented ${contract.maxItems} items`
      : null;
  specific.push({
    label: `${hugeCount} items`,
    value: Array.from({ length: hugeCount }, () => item),
    huge: true,
    mustFail: tooMany(hugeCount),
  });
  if (contract.maxItems !== undefined)
    specific.push({
      label: `${contract.maxItems + 1} items`,
      value: Array.from({ length: contract.maxItems + 1 }, () => item),
      mustFail: tooMany(contract.maxItems + 1),
    });
  if (contract.distinctItems)
    specific.push({ label: 'an item twice', value: [item, item], mustFail: 'a repeated item' });
  let deep: FuzzValue = [item];
  for (let i = 0; i < 300; i++) deep = [deep];
  generic.push(
    { label: 'empty list', value: [], mustFail: null },
    { label: 'list of null', value: [null], mustFail: wrongType },
    { label: 'nested list', value: [[item]], mustFail: wrongType },
    { label: '300-deep nested list', value: deep, mustFail: wrongType },
    { label: 'object for list', value: { item }, mustFail: wrongType },
  );
}

function objectVariants(ctx: VariantContext, specific: Variant[], generic: Variant[]): void {
  const nullable = getNullableType(ctx.type);
  if (!isInputObjectType(nullable)) return;
  const hasRequired = Object.values(nullable.getFields()).some(
    (f) => isNonNullType(f.type) && f.defaultValue === undefined,
  );
  const base: FuzzObject =
    typeof ctx.baseline === 'object' &&
    ctx.baseline !== null &&
    !Array.isArray(ctx.baseline) &&
    !(ctx.baseline instanceof RawNumber)
      ? ctx.baseline
      : {};
  let deep: FuzzValue = { leaf: 1 };
  for (let i = 0; i < 200; i++) deep = { nested: deep };
  specific.push({
    label: 'unknown field',
    value: { ...base, noSuchField: 1 },
    mustFail: wrongType,
  });
  if (hasRequired) specific.push({ label: 'empty object', value: {}, mustFail: wrongType });
  generic.push(
    { label: 'string for object', value: 'object', mustFail: wrongType },
    { label: 'list for object', value: [base], mustFail: wrongType },
    { label: '200-deep object', value: { ...base, noSuchField: deep }, mustFail: wrongType },
  );
}

function enumVariants(
  values: readonly { name: string }[],
  ctx: VariantContext,
  specific: Variant[],
  generic: Variant[],
): void {
  const names = values.map((v) => v.name);
  const allowed = ctx.contract.allowedEnumValues ?? names;
  for (const value of names.filter((v) => !allowed.includes(v)))
    specific.push({ label: `enum ${value}`, value, mustFail: 'an enum value the field refuses' });
  generic.push(
    { label: 'unknown enum value', value: 'NO_SUCH_VALUE', mustFail: wrongType },
    { label: 'lower-case enum value', value: names[0]!.toLowerCase(), mustFail: wrongType },
    { label: 'empty enum value', value: '', mustFail: wrongType },
    { label: 'number for enum', value: 1, mustFail: wrongType },
  );
}

function scalarVariants(
  scalar: string,
  ctx: VariantContext,
  specific: Variant[],
  generic: Variant[],
): void {
  const notA = (label: string, value: FuzzValue) =>
    generic.push({ label, value, mustFail: wrongType });
  if (scalar === 'Int' || scalar === 'Float') return numberVariants(scalar, ctx, specific, generic);
  if (scalar === 'Boolean') {
    notA('"true" (string)', 'true');
    notA('1', 1);
    notA('empty object', {});
    return;
  }
  if (scalar === 'ID') {
    const unknown = ctx.unknownIdsAllowed ? null : 'an id of nothing';
    for (const id of unknownIds)
      specific.push({ label: `unknown id ${id}`, value: id, mustFail: unknown });
    specific.push({ label: 'empty id', value: '', mustFail: 'a malformed id' });
    for (const id of malformedIds)
      generic.push({ label: `malformed id ${id}`, value: id, mustFail: 'a malformed id' });
    generic.push({ label: 'number id', value: 999_999_999, mustFail: unknown });
    notA('1.5', 1.5);
    notA('true', true);
    notA('object', { id: '1' });
    return;
  }
  if (/Date|Time/.test(scalar)) {
    for (const text of ['not-a-date', '', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+25:00'])
      generic.push({
        label: `date ${JSON.stringify(text)}`,
        value: text,
        mustFail: 'not an instant',
      });
    // Year 0 is a valid RFC 3339 instant, outside what PostgreSQL's timestamptz holds.
    specific.push({ label: 'year 0', value: '0000-01-01T00:00:00Z', mustFail: null });
    for (const text of ['9999-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z'])
      generic.push({ label: text, value: text, mustFail: null });
    generic.push({ label: 'number 1e20', value: 1e20, mustFail: null });
    notA('object', { at: 'now' });
    return;
  }
  stringVariants(ctx, specific, generic);
}

function numberVariants(
  scalar: 'Int' | 'Float',
  ctx: VariantContext,
  specific: Variant[],
  generic: Variant[],
): void {
  const { contract, rng } = ctx;
  const notA = (label: string, value: FuzzValue) =>
    generic.push({ label, value, mustFail: wrongType });
  const valid: [string, number][] = [
    ['-1', -1],
    ['0', 0],
    ['random int32', rng.int(-(2 ** 31), 2 ** 31 - 1)],
  ];
  if (scalar === 'Int') {
    valid.push(['2^31-1', 2 ** 31 - 1], ['-2^31', -(2 ** 31)]);
    if (contract.intMin !== undefined)
      specific.push({
        label: 'min-1',
        value: contract.intMin - 1,
        mustFail: outOfRange(contract, contract.intMin - 1),
      });
    if (contract.intMax !== undefined)
      specific.push({
        label: 'max+1',
        value: contract.intMax + 1,
        mustFail: outOfRange(contract, contract.intMax + 1),
      });
    notA('2^31', 2 ** 31);
    notA('-2^31-1', -(2 ** 31) - 1);
    notA('2^53+1', new RawNumber('9007199254740993'));
    notA('1.5', 1.5);
    notA('1e400', new RawNumber('1e400'));
  } else {
    valid.push(['1e308', 1e308], ['-1e308', -1e308], ['2^53+2', 2 ** 53 + 2], ['5e-324', 5e-324]);
    // JSON makes 1e400 Infinity, which Float refuses; graphql-js takes the literal as Infinity.
    generic.push({
      label: '1e400',
      value: new RawNumber('1e400'),
      mustFail: 'not a finite number',
    });
  }
  for (const [label, value] of valid)
    generic.push({
      label,
      value,
      mustFail: scalar === 'Int' || value < 0 ? outOfRange(contract, value) : null,
    });
  generic.push({ label: '-0', value: new RawNumber('-0'), mustFail: null });
  notA('"NaN"', 'NaN');
  notA('"12" (string)', '12');
  notA('true', true);
}

function stringVariants(ctx: VariantContext, specific: Variant[], generic: Variant[]): void {
  const { contract, name, rng } = ctx;
  const notA = (label: string, value: FuzzValue) =>
    generic.push({ label, value, mustFail: wrongType });
  const empty = (contract.minChars ?? 0) >= 1 ? 'empty, but documented as required text' : null;
  if (contract.maxChars !== undefined) {
    const value = 'b'.repeat(contract.maxChars + 1);
    specific.push({
      label: `${contract.maxChars + 1} characters`,
      value,
      huge: value.length > 65_536,
      mustFail: tooLong(contract, value),
    });
  }
  if (contract.maxBytes !== undefined) {
    const value = '€'.repeat(Math.ceil((contract.maxBytes + 1) / 3));
    specific.push({
      label: `${contract.maxBytes + 1}+ bytes`,
      value,
      huge: true,
      mustFail: tooLong(contract, value),
    });
  }
  const domain = (why: string, ...values: string[]) => {
    for (const value of values)
      specific.push({ label: `${describeValue(value).slice(0, 30)}`, value, mustFail: why });
  };
  if (/cron/i.test(name))
    domain(
      'an invalid cron expression',
      '* * *',
      '61 * * * * *',
      '@never',
      '* * * * * * * *',
      '*/0 * * * *',
      '0 0 30 2 *',
      'H * * * *',
      '0 '.repeat(5000),
    );
  if (/timeZone/i.test(name))
    domain('not an IANA time zone', 'Mars/Olympus', 'UTC+99', '+05:00', '../../etc/passwd', '');
  if (/^host$/.test(name))
    domain('not host:port', 'no-port', 'h:0', 'h:70000', '[::1', 'http://h:80', 'a b:80');
  if (/publicKey/i.test(name)) {
    domain('not an RSA public key', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----');
    domain('a key under 2048 bits', weakPublicKey);
    domain('a private key', '{"kty":"RSA","d":"x","n":"x","e":"AQAB"}');
  }
  if (/url/i.test(name)) domain('not a URL', 'not a url');
  // Every text field gets these, after its own: PostgreSQL text cannot hold U+0000, and a lone
  // surrogate is not UTF-8 (nor valid in jsonb).
  specific.push(
    { label: 'NUL byte', value: 'nul\u0000byte', mustFail: null },
    { label: 'lone surrogate', value: 'x\uD800y', mustFail: null },
    { label: '1 MB string', value: huge1MB, huge: true, mustFail: tooLong(contract, huge1MB) },
  );
  generic.push(
    { label: 'empty string', value: '', mustFail: empty },
    { label: 'blank string', value: ' \t\n ', mustFail: empty },
    {
      label: '100k x €',
      value: hugeMultibyte,
      huge: true,
      mustFail: tooLong(contract, hugeMultibyte),
    },
    { label: 'awkward code points', value: rng.awkwardString(), mustFail: null },
    { label: 'SQL', value: "'); drop table users; --", mustFail: null },
  );
  notA('number', 42);
  notA('object', { text: 'x' });
  notA('list', ['x']);
  notA('boolean', true);
}

// ---------------------------------------------------------------------------------------------
// Cases: request bodies, each with one bad value in an otherwise valid input

export type Mutation = GraphQLField<unknown, unknown>;

export interface Case {
  /** Position in its mutation's list: stable for a seed, also under FUZZ_ONLY. */
  index: number;
  mutation: string;
  /** The argument path fuzzed, or `(document)`. */
  where: string;
  label: string;
  encoding: 'variables' | 'inline' | 'document';
  /** The JSON body of the POST. */
  body: string;
  mustFail: string | null;
}

export interface CaseOptions {
  schema: GraphQLSchema;
  /** A valid value for `owner.field` (owner: the mutation or input type), if one is known. */
  hint: (owner: string, field: string, n: number) => FuzzValue | undefined;
  /** Fields set along with a fuzzed key field, on the object that holds it. */
  companions: Record<string, FuzzObject>;
  /** Field names where unknown, well-formed ids are legitimate; `mutation.*`: all its fields. */
  unknownIdsAllowed: ReadonlySet<string>;
  /** Contract aliases (see collectContracts). */
  contractAliases: Record<string, string>;
  /** Variants per input position. */
  cap: number;
}

type Path = (string | number)[];

interface Position {
  path: Path;
  owner: string;
  field: FieldLike;
}

export class CaseBuilder {
  private readonly contractFor: (owner: string, field: FieldLike) => Contract;

  constructor(private readonly options: CaseOptions) {
    this.contractFor = collectContracts(options.schema, options.contractAliases);
  }

  /**
   * Every case of one mutation: each argument and input field (nested objects and list items
   * included) with each of its variants, then bad documents. `base` keeps generated names unique
   * across mutations.
   */
  casesFor(mutation: Mutation, rng: Rng, base: number): Case[] {
    const cases: Case[] = [];
    const add = (c: Omit<Case, 'index' | 'mutation'>) =>
      cases.push({ ...c, index: cases.length, mutation: mutation.name });
    const n = () => base + cases.length;
    for (const position of this.positionsOf(mutation)) {
      const { field, owner, path } = position;
      const probe = this.baselineArgs(mutation, n());
      const nullable = getNullableType(field.type);
      const variants = variantsFor(
        {
          type: field.type,
          name: field.name,
          contract: this.contractFor(owner, field),
          rng,
          baseline: valueAt(probe, path) ?? this.baselineOf(field.type, owner, field.name, n()),
          itemBaseline: isListType(nullable)
            ? this.baselineOf(nullable.ofType, owner, field.name, n())
            : null,
          unknownIdsAllowed:
            this.options.unknownIdsAllowed.has(field.name) ||
            this.options.unknownIdsAllowed.has(`${mutation.name}.*`),
        },
        this.options.cap,
      );
      for (const variant of variants) {
        // GraphQL coerces variables and literals by different code paths, so a value that is
        // the wrong type (or a number JSON cannot hold) goes both ways: cheap, as it is refused
        // before any resolver. A value that reaches the resolvers arrives the same either way,
        // so it goes one way, picked by the seed.
        const both =
          (variant.mustFail === wrongType || variant.value instanceof RawNumber) && !variant.huge;
        const encodings = both
          ? (['variables', 'inline'] as const)
          : [rng.pick(['variables', 'inline'] as const)];
        for (const encoding of encodings) {
          const args = this.baselineArgs(mutation, n());
          this.applyCompanions(mutation, args, path, n());
          this.setAt(mutation, args, path, variant.value, n());
          add({
            where: path.join('.'),
            label: `${variant.label} (${describeValue(variant.value)})`,
            encoding,
            body: this.documentFor(mutation, args, encoding),
            mustFail: variant.mustFail,
          });
        }
      }
    }
    for (const [label, query, variables] of this.badDocuments(mutation, n()))
      add({
        where: '(document)',
        label,
        encoding: 'document',
        body: `{"query":${JSON.stringify(query)}${variables ? `,"variables":${variables}` : ''}}`,
        mustFail: 'an invalid document',
      });
    return cases;
  }

  private positionsOf(mutation: Mutation): Position[] {
    const out: Position[] = [];
    const walk = (type: GraphQLInputType, path: Path, depth: number): void => {
      const nullable = getNullableType(type);
      if (isListType(nullable)) return walk(nullable.ofType, [...path, 0], depth);
      if (!isInputObjectType(nullable) || depth > 4) return;
      for (const field of Object.values(nullable.getFields())) {
        out.push({ path: [...path, field.name], owner: nullable.name, field });
        walk(field.type, [...path, field.name], depth + 1);
      }
    };
    for (const arg of mutation.args) {
      out.push({ path: [arg.name], owner: mutation.name, field: arg });
      walk(arg.type, [arg.name], 0);
    }
    return out;
  }

  /** A valid value: the hint, or one built from the type (required fields only). */
  private baselineOf(type: GraphQLInputType, owner: string, name: string, n: number): FuzzValue {
    const hinted = this.options.hint(owner, name, n);
    if (hinted !== undefined) return hinted;
    const nullable = getNullableType(type);
    if (isListType(nullable)) return [this.baselineOf(nullable.ofType, owner, name, n)];
    if (isInputObjectType(nullable)) {
      const value: FuzzObject = {};
      for (const field of Object.values(nullable.getFields())) {
        if (isNonNullType(field.type) && field.defaultValue === undefined)
          value[field.name] = this.baselineOf(field.type, nullable.name, field.name, n);
      }
      return value;
    }
    if (isEnumType(nullable)) return nullable.getValues()[0]!.name;
    const scalar = getNamedType(nullable).name;
    if (scalar === 'Int') return 1;
    if (scalar === 'Float') return 1.5;
    if (scalar === 'Boolean') return true;
    if (scalar === 'ID') return '999999999';
    if (/Date|Time/.test(scalar)) return new Date().toISOString();
    return `fuzz-${n}`;
  }

  /** Required arguments, and optional ones with a hint (e.g. a group id to bind into). */
  private baselineArgs(mutation: Mutation, n: number): FuzzObject {
    const args: FuzzObject = {};
    for (const arg of mutation.args) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      const hinted = this.options.hint(mutation.name, arg.name, n);
      if (hinted !== undefined) args[arg.name] = hinted;
      else if (required) args[arg.name] = this.baselineOf(arg.type, mutation.name, arg.name, n);
    }
    return args;
  }

  private applyCompanions(mutation: Mutation, args: FuzzObject, path: Path, n: number): void {
    for (const [key, extra] of Object.entries(this.options.companions)) {
      const at = path.indexOf(key);
      if (at < 0) continue;
      if (at > 0 && valueAt(args, path.slice(0, at)) === undefined)
        this.setAt(mutation, args, [...path.slice(0, at), key], null, n);
      const holder = at === 0 ? args : valueAt(args, path.slice(0, at));
      if (isObject(holder)) Object.assign(holder, extra);
    }
  }

  /** Sets the value at `path`, building the containers on the way from baselines. */
  private setAt(mutation: Mutation, args: FuzzObject, path: Path, value: FuzzValue, n: number) {
    let container: FuzzObject | FuzzValue[] = args;
    for (let i = 0; i < path.length - 1; i++) {
      const step = path[i]!;
      let next: FuzzValue | undefined = Array.isArray(container)
        ? container[Number(step)]
        : container[String(step)];
      if (!Array.isArray(next) && !isObject(next)) {
        const name = path.slice(0, i + 1).filter((p) => typeof p === 'string');
        next = this.baselineOf(
          typeAt(mutation, path.slice(0, i + 1)),
          mutation.name,
          String(name.at(-1)),
          n,
        );
        if (Array.isArray(next) && next.length === 0) next.push({});
        if (Array.isArray(container)) container[Number(step)] = next;
        else container[String(step)] = next;
      }
      container = next as FuzzObject | FuzzValue[];
    }
    const leaf = path.at(-1)!;
    if (Array.isArray(container)) container[Number(leaf)] = value;
    else container[String(leaf)] = value;
  }

  private documentFor(
    mutation: Mutation,
    args: FuzzObject,
    encoding: 'variables' | 'inline',
  ): string {
    const present = mutation.args.filter((a) => a.name in args);
    const selection = selectionFor(mutation.type);
    if (encoding === 'inline') {
      const list = present.map((a) => `${a.name}: ${toLiteral(args[a.name]!, a.type)}`);
      const query = `mutation Fuzz { ${call(mutation.name, list)}${selection} }`;
      return `{"query":${JSON.stringify(query)}}`;
    }
    const declarations = present.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
    const uses = present.map((a) => `${a.name}: $${a.name}`);
    const query =
      `mutation Fuzz${declarations ? `(${declarations})` : ''} ` +
      `{ ${call(mutation.name, uses)}${selection} }`;
    return `{"query":${JSON.stringify(query)},"variables":${toJson(args)}}`;
  }

  /** Unknown and repeated arguments, wrong variable types, huge and deep documents. */
  private badDocuments(mutation: Mutation, n: number): [string, string, string?][] {
    const name = mutation.name;
    const selection = selectionFor(mutation.type);
    const args = this.baselineArgs(mutation, n);
    const inline = mutation.args
      .filter((a) => a.name in args)
      .map((a) => `${a.name}: ${toLiteral(args[a.name]!, a.type)}`);
    const docs: [string, string, string?][] = [
      [
        'unknown argument',
        `mutation { ${call(name, [...inline, 'noSuchArgument: 1'])}${selection} }`,
      ],
      ['unknown field selected', `mutation { ${call(name, inline)} { noSuchField } }`],
      [
        '6000 selections (token limit)',
        `mutation { ${call(name, inline)} { ${'__typename '.repeat(6000)}} }`,
      ],
      ['variables not an object', `mutation { ${call(name, inline)}${selection} }`, '"x"'],
    ];
    const first = mutation.args[0];
    if (first) {
      const twice = inline[0] ?? `${first.name}: null`;
      docs.push(
        [
          'argument given twice',
          `mutation { ${call(name, [...inline, twice, twice])}${selection} }`,
        ],
        [
          'variable of the wrong type',
          `mutation ($v: ${getNamedType(first.type).name === 'Boolean' ? 'String' : 'Boolean'}) ` +
            `{ ${name}(${first.name}: $v)${selection} }`,
          '{"v":null}',
        ],
        ['undeclared variable', `mutation { ${name}(${first.name}: $nope)${selection} }`],
      );
      if (mutation.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined))
        docs.push(['required arguments missing', `mutation { ${name}${selection} }`]);
    }
    const deep = deepSelection(mutation.type, 13);
    if (deep) docs.push(['selection nested 14 deep', `mutation { ${call(name, inline)} ${deep} }`]);
    return docs;
  }
}

function call(name: string, args: string[]): string {
  return args.length ? `${name}(${args.join(', ')})` : name;
}

function isObject(value: FuzzValue | undefined): value is FuzzObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof RawNumber)
  );
}

function valueAt(args: FuzzObject, path: Path): FuzzValue | undefined {
  let value: FuzzValue | undefined = args;
  for (const step of path) {
    if (Array.isArray(value)) value = value[Number(step)];
    else if (isObject(value)) value = value[String(step)];
    else return undefined;
  }
  return value;
}

function typeAt(mutation: Mutation, path: Path): GraphQLInputType {
  let type: GraphQLInputType = mutation.args.find((a) => a.name === path[0])!.type;
  for (const step of path.slice(1)) {
    const nullable = getNullableType(type);
    if (typeof step === 'number' && isListType(nullable)) type = nullable.ofType;
    else if (isInputObjectType(nullable)) type = nullable.getFields()[String(step)]!.type;
  }
  return type;
}

/**
 * `__typename`, and `refused` where a mutation answers refusals in its data instead of errors
 * (a batch of reports): a non-empty `refused` list counts as a refusal.
 */
export function selectionFor(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  const refused = isObjectType(named) && named.getFields().refused;
  return refused ? ' { __typename refused { __typename } }' : ' { __typename }';
}

/** A selection `depth` levels deep through object fields without required arguments. */
function deepSelection(
  type: GraphQLOutputType,
  depth: number,
  memo = new Map<string, string | null>(),
): string | null {
  const named = getNamedType(type);
  if (!isObjectType(named)) return null;
  if (depth === 0) return '{ __typename }';
  const key = `${named.name}/${depth}`;
  if (memo.has(key)) return memo.get(key)!;
  memo.set(key, null);
  for (const field of Object.values(named.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type))) continue;
    const inner = deepSelection(field.type, depth - 1, memo);
    if (inner !== null) {
      memo.set(key, `{ ${field.name} ${inner} }`);
      break;
    }
  }
  return memo.get(key)!;
}
