/**
 * Event type patterns of `permissions.events` (`track.played`, `track.*`, `*`).
 * @module
 */

/** `track.played` against `track.*`, `*` or itself. */
export function matchesEventPattern(type: string, pattern: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  return pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1));
}
