import { optionalText, requiredText } from '../shared/validation.js';

export function validGroupName(field: string, value: string): string {
  return requiredText(field, value, 100);
}

export function validGroupDescription(field: string, value: string): string {
  return optionalText(field, value, 2000);
}

export function validGroupTag(field: string, value: string): string {
  return optionalText(field, value, 100);
}
