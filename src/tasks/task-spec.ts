/** The JSON stored for an HTTP task (`tasks.http_request`, snapshotted on each instance). */
export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  /** The run ends FINISHED when the response status is one of these, ABNORMAL_ENDING otherwise. */
  expectedStatusCodes: number[];
}

/** Environment variables given to a run, name → value. */
export type EnvironmentMap = Record<string, string>;
