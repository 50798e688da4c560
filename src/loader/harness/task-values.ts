/**
 * What the harness makes of a plugin's failures and promises: a thrown value as a `TaskFailure`, an
 * error as one line, and whether a value is a thenable.
 * @module
 */
import type { TaskFailure } from '../../shared/task-failure.js';

/** A thrown value as the task's failure of `kind` (its message and stack, never the value itself). */
export function failure(kind: TaskFailure['__pgw'], error: unknown): TaskFailure {
  const e = error instanceof Error ? error : undefined;
  return { __pgw: kind, message: e ? e.message : describe(error), stack: e?.stack };
}

/** `Name: message` for an error, the string of anything else. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}
