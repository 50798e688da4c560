/**
 * `TaskFailure`: what a runtime answers in place of a result when a plugin did not produce one. Every
 * layer speaks it: runtimes produce it, the mesh judges it for the breaker, the core maps it to a status.
 * @module
 */

/**
 * A task that did not produce a value. A runtime's inside answers `threw`, `timeout`, `init`,
 * `bad-response`, `no-route` and `too-large` (a response over `maxResponseBytes`); its host side adds
 * `crash` (the thread or process died), `terminated` (the host ended it because another request on it timed out), `overloaded` (no free request slot) and
 * `unreachable` (a remote instance's gateway could not be reached, or no longer serves it) and
 * `unsendable` (the request could not be copied to the plugin's thread: the plugin never saw it).
 */
export interface TaskFailure {
  __pgw:
    | 'threw'
    | 'timeout'
    | 'init'
    | 'bad-response'
    | 'no-route'
    | 'crash'
    | 'terminated'
    | 'overloaded'
    | 'unreachable'
    | 'too-large'
    | 'unsendable';
  message: string;
  stack?: string;
}

/** The kinds of {@link TaskFailure}, for validating a failure that crossed a boundary. */
export const FAILURE_KINDS: ReadonlySet<TaskFailure['__pgw']> = new Set([
  'threw',
  'timeout',
  'init',
  'bad-response',
  'no-route',
  'crash',
  'terminated',
  'overloaded',
  'unreachable',
  'too-large',
  'unsendable',
]);

/** True for a value a runtime returned in place of a result. */
export function isTaskFailure(value: unknown): value is TaskFailure {
  return typeof value === 'object' && value !== null && '__pgw' in value;
}
