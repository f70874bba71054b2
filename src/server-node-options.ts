/**
 * Node options the server runs with: `npm start` gives the same (package.json), and the bench
 * and the tests that start the server as a process use this list.
 *
 * `--experimental-async-context-frame` keeps AsyncLocalStorage's stores (MikroORM creates them)
 * in V8's continuation data rather than in promise hooks, which Node 22 otherwise runs for every
 * promise of the process: server CPU per `{ __typename }` request 1.16 → 1.05 ms in two
 * interleaved pairs. It is the default from Node 24.
 */
export const serverNodeOptions: readonly string[] = ['--experimental-async-context-frame'];
