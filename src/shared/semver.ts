/**
 * The parts of `semver` the gateway uses, loaded at the first version compared rather than with the
 * gateway: semver builds its regular expressions when it loads, a large share of what importing the
 * package cost, and a host only compares versions once it loads plugins. Synchronously (`require`),
 * since the callers (schema checks, the registry) are synchronous.
 * @module
 */
import { createRequire } from 'node:module';
import type * as Semver from 'semver';

let loaded: typeof Semver | undefined;
const lib = (): typeof Semver =>
  (loaded ??= createRequire(import.meta.url)('semver') as typeof Semver);

export const semver = {
  gt: (a: string, b: string): boolean => lib().gt(a, b),
  gte: (a: string, b: string): boolean => lib().gte(a, b),
  rcompare: (a: string, b: string): number => lib().rcompare(a, b),
  satisfies: (version: string, range: string, options?: Semver.RangeOptions): boolean =>
    lib().satisfies(version, range, options),
  valid: (version: string | null | undefined): string | null => lib().valid(version),
  validRange: (range: string | null | undefined): string | null => lib().validRange(range),
};
