import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { PrincipalCache } from '../auth/principal-cache.js';
import type { KeyRing } from '../auth/signing-keys.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { HeartbeatBuffer } from '../executor-protocol/heartbeat-buffer.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import type { Logger } from '../shared/logger.js';
import { ExecutorBindingService } from '../executor-bindings/executor-binding.service.js';
import { ExecutorGroupService } from '../executor-groups/executor-group.service.js';
import { EnrollmentService } from '../executors/enrollment.service.js';
import { ExecutorService } from '../executors/executor.service.js';
import { AssignmentFeeds } from '../executor-protocol/assignment-feeds.js';
import { ExecutorReconciliationService } from '../executor-protocol/executor-reconciliation.service.js';
import { ExecutorReportService } from '../executor-protocol/executor-report.service.js';
import type { RoundRobinTurns } from '../scheduler/round-robin-turns.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { TaskInstanceService } from '../task-instances/task-instance.service.js';
import { TaskLogService } from '../task-logs/task-log.service.js';
import { TaskService } from '../tasks/task.service.js';
import { UserService } from '../users/user.service.js';

export interface ServiceDeps {
  config: Config;
  keys: KeyRing;
  orm: MikroORM;
  bus: NotificationBus;
  logger: Logger;
  heartbeats: HeartbeatBuffer;
  /** Mints task instance ids with this replica's leased machine id. */
  ids: SnowflakeGenerator;
  /** ROUND_ROBIN positions, shared with the dispatcher. */
  turns: RoundRobinTurns;
}

/** The domain services, built once per server and shared by all requests. */
export interface Services {
  readonly auth: AuthService;
  /** Who credentials belong to, as of a moment ago; tell it of changes (`changed`). */
  readonly principals: PrincipalCache;
  readonly users: UserService;
  readonly executorGroups: ExecutorGroupService;
  readonly executors: ExecutorService;
  readonly executorBindings: ExecutorBindingService;
  readonly tasks: TaskService;
  readonly taskInstances: TaskInstanceService;
  readonly taskLogs: TaskLogService;
  readonly audit: AuditService;
  readonly enrollment: EnrollmentService;
  readonly executorReports: ExecutorReportService;
  readonly executorReconciliation: ExecutorReconciliationService;
  readonly assignments: AssignmentFeeds;
  /** Notifications from every replica, for subscriptions. */
  readonly bus: NotificationBus;
  readonly logger: Logger;
}

export function createServices(deps: ServiceDeps): Services {
  return {
    auth: new AuthService(deps.config, deps.keys),
    principals: new PrincipalCache(deps.config.credentialCacheSeconds * 1000, deps.bus),
    users: new UserService(),
    executorGroups: new ExecutorGroupService(),
    executors: new ExecutorService(),
    executorBindings: new ExecutorBindingService(),
    tasks: new TaskService(),
    taskInstances: new TaskInstanceService(deps.ids, deps.turns),
    taskLogs: new TaskLogService(),
    audit: new AuditService(),
    enrollment: new EnrollmentService(),
    executorReports: new ExecutorReportService(deps.heartbeats),
    executorReconciliation: new ExecutorReconciliationService(),
    assignments: new AssignmentFeeds(deps.orm, deps.bus, deps.logger),
    bus: deps.bus,
    logger: deps.logger,
  };
}
