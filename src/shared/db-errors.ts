import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { ConflictError } from './app-error.js';

/**
 * Runs `work`, turning a unique violation of one of the named constraints into a ConflictError
 * with the given message. Other errors pass through.
 */
export async function withUniqueConstraints<T>(
  work: () => Promise<T>,
  messages: Record<string, { field: string; message: string }>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      const constraint = (error as { constraint?: string }).constraint ?? '';
      const known = messages[constraint];
      if (known) throw new ConflictError(known.message, { field: known.field });
      throw new ConflictError('This would duplicate an existing record.');
    }
    throw error;
  }
}
