/**
 * The pieces every options schema shares: bounded durations, positive integers, and the error that
 * names what was wrong in p-queue's format (``Expected `maxPlugins` to be at least 1, got `0` (number)``).
 * @module
 */
import { z } from './zod.js';
import { InvalidArgumentError } from '../errors.js';
import { parseDuration } from './duration.js';
import { suggestKey, type KeyMap } from './schema-keys.js';
import { lazySchema } from './lazy-schema.js';

/** One hour, in ms. */
export const HOUR_MS = 3_600_000;

/**
 * A duration (`"30s"` or ms) of at most `maxMs`: every duration option ends up in a timer, and a timer
 * set past 2^31-1 ms (~24.8 days) fires after 1 ms.
 */
export const boundedDurationMs = (maxMs: number, max: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms > maxMs) {
      ctx.addIssue({
        code: 'custom',
        message: `a duration like "500ms", "30s" or a number of milliseconds, at most ${max}`,
      });
      return z.NEVER;
    }
    return ms;
  });

export const durationMs = lazySchema(() => boundedDurationMs(24 * HOUR_MS, '24h'));

export const positiveInt = lazySchema(() => z.number().int().positive());

/**
 * The error for options that failed `schema`: one line per problem, unknown keys with a suggestion
 * from `keys` (the schema's own), `prefix` naming where they were passed (`options` for `load()`).
 */
export function invalidOptions(
  error: z.ZodError,
  prefix: string,
  keys: KeyMap,
): InvalidArgumentError {
  const lines = error.issues.map((issue) => {
    const name = [prefix, ...issue.path].filter((p) => p !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map(
          (k) =>
            `Unknown option \`${[name, k].filter(Boolean).join('.')}\`${suggestKey(keys, issue.path, k)}`,
        )
        .join('\n');
    }
    const input = (issue as { input?: unknown }).input;
    return `Expected \`${name}\` to be ${expectation(issue)}, got \`${show(input)}\` (${input === null ? 'null' : typeof input})`;
  });
  return new InvalidArgumentError(lines.join('\n'), { cause: error });
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`;
    case 'too_small':
      return `at least ${String(issue.minimum)}${unit(issue.origin)}${issue.inclusive === false ? ' (exclusive)' : ''}`;
    case 'too_big':
      return `at most ${String(issue.maximum)}${unit(issue.origin)}`;
    default:
      return issue.message.replace(/^Invalid input:?\s*/i, '') || 'valid';
  }
}

/** What a length bound counts: a bare number would read as the value's own bound. */
function unit(origin: string): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array' || origin === 'set') return ' items';
  if (origin === 'file') return ' bytes';
  return '';
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
