/**
 * Freezing validated configuration so nothing can change it after validation.
 * @module
 */

/**
 * Freezes plain objects and arrays in place, all the way down, and returns the value. Class instances
 * and the values in `live` (a logger, a registry, a store the host handed in) are left as they are: they
 * are the host's, and alive.
 */
export function deepFreeze<T>(value: T, live: ReadonlySet<unknown> = NONE): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || live.has(value)) {
    return value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child, live);
  return value;
}

const NONE: ReadonlySet<unknown> = new Set();
