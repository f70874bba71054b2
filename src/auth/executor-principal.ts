/** An executor authenticated by a token signed with its own private key. */
export interface ExecutorPrincipal {
  readonly executorId: number;
  readonly name: string;
}
