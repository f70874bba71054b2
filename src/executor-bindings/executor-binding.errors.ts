import { NotFoundError } from '../shared/app-error.js';

/**
 * An id given in the input names nothing. Still NOT_FOUND, but with `extensions.field` so the
 * client can point at the input field (`input.groupId`), which a bare NotFoundError cannot.
 */
export class ReferencedNotFoundError extends NotFoundError {
  constructor(field: string, entity: string, id: string | number) {
    super(entity, id);
    this.message = `${field} names ${entity} ${id}, which does not exist.`;
    this.details.field = field;
  }
}
