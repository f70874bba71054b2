import type { UserRole } from '../users/user-role.js';

/** Who is making a request. */
export interface Principal {
  readonly userId: number;
  readonly username: string;
  readonly role: UserRole;
  /** Set when authenticated by an access token: the login it belongs to. */
  readonly sessionId: string | null;
  /** Set when authenticated by an API token. */
  readonly apiTokenId: number | null;
}
