import { ValidationError } from '../shared/app-error.js';
import { optionalText } from '../shared/validation.js';

const usernameShape = /^[A-Za-z0-9_.-]{3,64}$/;

/** Whether `value` could be a username (what validUsername accepts, untrimmed). */
export function isUsernameShaped(value: string): boolean {
  return usernameShape.test(value);
}

export function validUsername(field: string, value: string): string {
  const trimmed = value.trim();
  if (!isUsernameShaped(trimmed)) {
    throw new ValidationError(field, `${field} must be 3 to 64 letters, digits, "_", "." or "-".`);
  }
  return trimmed;
}

export function validPassword(field: string, value: string): string {
  if (value.length < 8 || value.length > 256) {
    throw new ValidationError(field, `${field} must be 8 to 256 characters.`);
  }
  return value;
}

/** Empty means "not set". */
export function validEmail(field: string, value: string | null): string | null {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return null;
  if (trimmed.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(trimmed)) {
    throw new ValidationError(field, `${field} is not an email address.`);
  }
  return trimmed.toLowerCase();
}

export function validMobile(field: string, value: string | null): string | null {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return null;
  if (!/^\+?[0-9][0-9 ()-]{3,30}$/.test(trimmed)) {
    throw new ValidationError(field, `${field} must be a phone number such as +44 20 7946 0958.`);
  }
  return trimmed;
}

export function validUrl(field: string, value: string | null): string | null {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return null;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new ValidationError(field, `${field} must be an http(s) URL.`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || trimmed.length > 2048) {
    throw new ValidationError(field, `${field} must be an http(s) URL of at most 2048 characters.`);
  }
  return trimmed;
}

export function validNickName(field: string, value: string | null): string | null {
  const trimmed = optionalText(field, value ?? '', 100);
  return trimmed === '' ? null : trimmed;
}
