import { ApiToken } from '../auth/api-token.entity.js';
import { ExecutorTokenUse } from '../auth/executor-token-use.entity.js';
import { LoginThrottle } from '../auth/login-throttle.entity.js';
import { Session } from '../auth/session.entity.js';
import { SigningKey } from '../auth/signing-key.entity.js';
import { AuditEntry } from '../audit/audit-entry.entity.js';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import { EnrollmentToken } from '../executors/enrollment-token.entity.js';
import { Executor } from '../executors/executor.entity.js';
import { ServerNode } from '../shared/server-node.entity.js';
import { TaskInstanceAttempt } from '../task-instances/task-instance-attempt.entity.js';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import { TaskLog } from '../task-logs/task-log.entity.js';
import { Task } from '../tasks/task.entity.js';
import { User } from '../users/user.entity.js';

/** Every entity, in one list shared by the app, the migrator and the tests. */
export const entities = [
  User,
  Session,
  ApiToken,
  SigningKey,
  LoginThrottle,
  ExecutorGroup,
  Executor,
  ExecutorBinding,
  Task,
  TaskInstance,
  TaskLog,
  AuditEntry,
  ServerNode,
  EnrollmentToken,
  ExecutorTokenUse,
  TaskInstanceAttempt,
];
