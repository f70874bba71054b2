import type { ExecutorAssignment } from '../../../../executor/work/executor-message.js';

let nextInstanceId = 1_000;

/** A SHELL assignment as the server would send it; override what the test is about. */
export function shellAssignment(overrides: Partial<ExecutorAssignment> = {}): ExecutorAssignment {
  return {
    __typename: 'ExecutorAssignment',
    instanceId: String(nextInstanceId++),
    attempt: 1,
    taskId: '7',
    taskName: 'test task',
    kind: 'SHELL',
    command: 'true',
    env: [],
    workingDirectory: null,
    httpRequest: null,
    timeoutSeconds: 30,
    expectedExitCode: 0,
    expectedOutput: null,
    dispatchedAt: new Date().toISOString(),
    startAt: null,
    ...overrides,
  };
}

/** An HTTP assignment against `url`. */
export function httpAssignment(
  url: string,
  request: Partial<NonNullable<ExecutorAssignment['httpRequest']>> = {},
  overrides: Partial<ExecutorAssignment> = {},
): ExecutorAssignment {
  return shellAssignment({
    kind: 'HTTP',
    command: '',
    httpRequest: {
      method: 'GET',
      url,
      headers: [],
      body: null,
      expectedStatusCodes: [200],
      ...request,
    },
    ...overrides,
  });
}
