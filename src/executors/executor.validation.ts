import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../shared/app-error.js';
import { integerInRange, optionalText, requiredText } from '../shared/validation.js';

export const maxMachineId = 1023;
export const maxCapacity = 1000;
/** RS256 with a shorter modulus is breakable; jose refuses it too. */
export const minRsaModulusBits = 2048;
/** Far above any real key (a 16384-bit JWK is ~6 KB); keeps junk out of the parser. */
const maxPublicKeyLength = 20_000;

const hostShape =
  '`host:port`, e.g. `executor-1.internal:9090`, `10.0.0.5:9090` or `[2001:db8::5]:9090`';
const dnsLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const port = /^[1-9][0-9]{0,4}$/;

export function validExecutorName(field: string, value: string): string {
  return requiredText(field, value, 100);
}

export function validExecutorDescription(field: string, value: string): string {
  return optionalText(field, value, 2000);
}

export function validExecutorTag(field: string, value: string): string {
  return optionalText(field, value, 100);
}

/**
 * `host:port` where host is a DNS name, an IPv4 address or a bracketed IPv6 address and port is
 * 1..65535. Returned as given: the executor is reached at exactly this address.
 */
export function validHost(field: string, value: string): string {
  const refuse = (why: string): never => {
    throw new ValidationError(field, `${field} must be ${hostShape}; ${why}.`);
  };
  if (/\s/.test(value)) refuse('it contains whitespace');
  if (value.includes('://')) refuse('leave out the scheme (such as "http://")');
  const colon = value.lastIndexOf(':');
  if (colon < 0) refuse(`"${value}" has no ":port"`);
  const host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (!port.test(portText) || Number(portText) > 65535) {
    refuse(`the port "${portText}" is not a number from 1 to 65535`);
  }
  if (host.startsWith('[') && host.endsWith(']')) {
    if (!isIPv6(host.slice(1, -1))) refuse(`"${host}" is not an IPv6 address`);
    return value;
  }
  if (isIPv6(host)) refuse('an IPv6 address must be in brackets');
  if (host === '') refuse('the host is missing');
  const labels = host.split('.');
  // A name whose last label is all digits can only be meant as an IPv4 address (RFC 3696 §2).
  if (/^[0-9]+$/.test(labels.at(-1) ?? '')) {
    if (!isIPv4(host)) refuse(`"${host}" is not an IPv4 address`);
    return value;
  }
  if (host.length > 253 || !labels.every((label) => dnsLabel.test(label))) {
    refuse(
      `"${host}" is not a DNS name (letters, digits and hyphens in dot-separated labels of ` +
        'at most 63 characters, no label starting or ending with a hyphen)',
    );
  }
  return value;
}

export function validMachineId(field: string, value: number): number {
  return integerInRange(field, value, 0, maxMachineId);
}

export function validCapacity(field: string, value: number): number {
  return integerInRange(field, value, 1, maxCapacity);
}

/**
 * An RSA public key of at least 2048 bits, given as PEM (SPKI, `BEGIN PUBLIC KEY`) or as a JWK
 * JSON string, normalised to PEM SPKI. Empty means "no key". Private keys are refused rather
 * than silently reduced to their public half: someone who pastes one has leaked it.
 */
export function validPublicKey(field: string, value: string | null): string | null {
  const text = value?.trim() ?? '';
  if (text === '') return null;
  const refuse = (why: string): never => {
    throw new ValidationError(
      field,
      `${field} must be an RSA public key of at least ${minRsaModulusBits} bits, as PEM ` +
        `("-----BEGIN PUBLIC KEY-----") or as a JWK JSON object; ${why}.`,
    );
  };
  if (text.length > maxPublicKeyLength)
    refuse(`it is longer than ${maxPublicKeyLength} characters`);
  if (/PRIVATE KEY/.test(text))
    refuse('this is a private key: keep it secret and send its public key');

  let key: KeyObject | undefined;
  if (text.startsWith('{')) {
    const jwk = parseJwk(text) ?? refuse('it is not valid JSON');
    if ('d' in jwk) refuse('this JWK holds a private key: keep it secret and send its public part');
    key = tryCreate(() => createPublicKey({ key: jwk, format: 'jwk' }));
  } else if (/^-----BEGIN PUBLIC KEY-----\r?\n[\s\S]+\r?\n-----END PUBLIC KEY-----$/.test(text)) {
    key = tryCreate(() => createPublicKey({ key: text, format: 'pem' }));
  } else {
    refuse('it is neither');
  }
  if (!key) return refuse('it could not be read as a key');
  if (key.asymmetricKeyType !== 'rsa') refuse(`it is a ${key.asymmetricKeyType ?? 'non-RSA'} key`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < minRsaModulusBits) refuse(`it has ${bits} bits`);
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

function parseJwk(text: string): JsonWebKey | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as JsonWebKey)
      : null;
  } catch {
    return null;
  }
}

function tryCreate(create: () => KeyObject): KeyObject | undefined {
  try {
    return create();
  } catch {
    return undefined;
  }
}
