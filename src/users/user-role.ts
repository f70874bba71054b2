import { registerEnumType } from 'type-graphql';

/** Crocodile's model: ADMIN does everything, USER changes what they own, GUEST only reads. */
export enum UserRole {
  ADMIN = 'ADMIN',
  USER = 'USER',
  GUEST = 'GUEST',
}

registerEnumType(UserRole, {
  name: 'UserRole',
  description: 'What a user may do.',
  valuesConfig: {
    ADMIN: { description: 'Everything, including users, executors and the audit log.' },
    USER: { description: 'Creates tasks and groups, and changes only what they own.' },
    GUEST: { description: 'Reads tasks, executors and runs; cannot see users or the audit log.' },
  },
});
