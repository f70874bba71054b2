import { AuthService } from '../auth/auth.service.js';
import type { KeyRing } from '../auth/signing-keys.js';
import type { Config } from '../config.js';
import { UserService } from '../users/user.service.js';

/** The domain services, built once per server and shared by all requests. */
export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
}

export function createServices(config: Config, keys: KeyRing): Services {
  return {
    auth: new AuthService(config, keys),
    users: new UserService(),
  };
}
