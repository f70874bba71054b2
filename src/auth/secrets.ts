import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 hex: how refresh and API tokens are stored and looked up. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** 32 random bytes, base64url, with a prefix that says what the token is for. */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export const apiTokenPrefix = 'gcapi_';
export const refreshTokenPrefix = 'gcref_';
