/**
 * The `plugin.yaml` schema (zod): the single source of truth for what a manifest may say.
 * The ADR's manifest is valid as written; unknown keys are errors so that a typo never silently
 * disables a limit.
 * @module
 */
import path from 'node:path';
import { semver } from '../shared/semver.js';
import { z } from '../shared/zod.js';
import { parseDuration, parseRate } from '../shared/duration.js';
import { parseNetworkGrant } from '../shared/network-allowlist.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** Methods an endpoint may declare. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A duration between `min` and `max` (written as in a manifest). Every duration is bounded: a timer set
 * past 2^31-1 ms fires after 1 ms, so `interval: 600h` was a 1 ms loop (issue 14, item 15).
 */
const duration = (min: string, max: string) => {
  const lo = parseDuration(min)!;
  const hi = parseDuration(max)!;
  return z.string().superRefine((v, ctx) => {
    const ms = v.length > 32 ? undefined : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like "500ms", "30s" or "2m", got ${show(v)}`,
      });
    } else if (ms < lo || ms > hi) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration from ${min} to ${max}, got ${show(v)}`,
      });
    }
  });
};

/** The input quoted for a message, cut short when long. */
const show = (v: string) => JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);

/** A string of at most `max` characters. */
const text = (max: number) => z.string().max(max);

/**
 * Folders an interpreter named by an absolute `runtime.command` may live in (decision 0110): the
 * system's own binaries, never a path a plugin or a catalog could have written.
 */
export const INTERPRETER_DIRS: readonly string[] = ['/usr/bin/', '/bin/', '/usr/local/bin/'];

/** A command-line word: no NUL (no process could receive it), at most 4096 characters. */
const commandWord = lazySchema(() =>
  text(4096).refine((v) => !v.includes('\0'), {
    error: 'a command word may not hold a NUL character',
  }),
);

/**
 * `runtime.command` of a native plugin: a program in the plugin's folder (`./bin/plugin`), or an
 * interpreter in one of {@link INTERPRETER_DIRS} and its arguments (`[/usr/bin/python3, main.py]`).
 */
const nativeCommand = lazySchema(() =>
  z
    .array(commandWord)
    .min(1)
    .max(64)
    .superRefine((words, ctx) => {
      // zod runs this after `min(1)` failed too.
      const program = words[0];
      if (program === undefined) return;
      if (path.posix.isAbsolute(program)) {
        const normal = path.posix.normalize(program);
        if (normal !== program || !INTERPRETER_DIRS.some((d) => program.startsWith(d))) {
          ctx.addIssue({
            code: 'custom',
            path: [0],
            message: `an absolute command must be an interpreter in ${INTERPRETER_DIRS.join(', ')}, got ${show(program)}`,
          });
        }
      } else if (!program.startsWith('./') || program.split('/').includes('..')) {
        ctx.addIssue({
          code: 'custom',
          path: [0],
          message: `expected a program in the plugin's folder like "./bin/plugin" (or an interpreter's absolute path), got ${show(program)}`,
        });
      }
    }),
);

/** A `permissions.network` entry: `host` or `host:port` (IPv6 in brackets). */
const networkGrant = lazySchema(() =>
  text(512).superRefine((v, ctx) => {
    const grant = parseNetworkGrant(v);
    if (typeof grant === 'string') ctx.addIssue({ code: 'custom', message: grant });
  }),
);

const semverVersion = lazySchema(() =>
  text(256).refine((v) => semver.valid(v) !== null, {
    error: (i) => `expected a semantic version like "1.2.3", got ${JSON.stringify(i.input)}`,
  }),
);

const semverRange = lazySchema(() =>
  text(1024).refine((v) => semver.validRange(v) !== null, {
    error: (i) => `expected a semver range like ">=1.0.0", got ${JSON.stringify(i.input)}`,
  }),
);

const method = lazySchema(() =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.toUpperCase() : v),
    z.enum(HTTP_METHODS, {
      error: (i) => `expected one of ${HTTP_METHODS.join(', ')}, got ${JSON.stringify(i.input)}`,
    }),
  ),
);

/** `/tracks/{id}`: segments of letters, digits, `-._~` or a `{name}` parameter. */
const ENDPOINT_PATH = /^(\/([A-Za-z0-9\-._~]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+\/?$|^\/$/;

/** A `rate_limit`-style rate: `"<n>/<sec|min|hour>"`. */
const rateText = lazySchema(() =>
  text(64).refine((v) => (parseRate(v)?.limit ?? Infinity) <= MAX_RATE_LIMIT, {
    error: (i) =>
      `expected "<n>/<sec|min|hour>" with n from 1 to ${MAX_RATE_LIMIT}, got ${JSON.stringify(i.input)}`,
  }),
);

/** A browser origin an endpoint admits: `https://app.example.com` (scheme, host, optional port), or `*`. */
const ORIGIN =
  /^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?|https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?)$/;

/**
 * An endpoint that accepts WebSocket upgrades (`websocket: true` for the defaults). Every figure has a
 * bound: each is what one connection may hold on the host.
 */
const websocketSettings = lazySchema(() =>
  z.preprocess(
    (v) => (v === true ? {} : v),
    z.strictObject({
      max_message_bytes: z
        .number()
        .int()
        .min(1)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
      max_buffered_bytes: z
        .number()
        .int()
        .min(1024)
        .max(256 * 1024 * 1024)
        .default(1024 * 1024),
      max_connections: z.number().int().min(1).max(1_000_000).default(10_000),
      message_rate_limit: rateText.optional(),
      origins: z
        .array(
          text(512).regex(ORIGIN, {
            error: (i) =>
              `expected an origin like "https://app.example.com" or "*", got ${JSON.stringify(i.input)}`,
          }),
        )
        .max(256)
        .optional(),
      idle_timeout: duration('1s', '24h').default('60s'),
    }),
  ),
);

/**
 * An endpoint whose response is streamed (an async iterable body, Server-Sent Events): `stream: true`
 * for the defaults. Its deadlines replace `timeout`.
 */
const streamSettings = lazySchema(() =>
  z.preprocess(
    (v) => (v === true ? {} : v),
    z.strictObject({
      first_byte_timeout: duration('1ms', '1h').default('30s'),
      idle_timeout: duration('1s', '24h').default('60s'),
      total_timeout: duration('1s', '24h').default('1h'),
      max_chunk_bytes: z
        .number()
        .int()
        .min(1)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
      request_body: z.boolean().default(false),
      max_connections: z.number().int().min(1).max(1_000_000).optional(),
      max_request_bytes: z
        .number()
        .int()
        .min(1)
        .max(64 * 1024 ** 3)
        .default(1024 ** 3),
    }),
  ),
);

export const endpointSchema = lazySchema(() =>
  z.strictObject({
    path: text(1024).regex(ENDPOINT_PATH, {
      error: (i) =>
        `expected an absolute path whose parameters are written {name}, got ${JSON.stringify(i.input)}`,
    }),
    method,
    auth: z.enum(['required', 'optional', 'none']).default('none'),
    rate_limit: text(64)
      .refine((v) => (parseRate(v)?.limit ?? Infinity) <= MAX_RATE_LIMIT, {
        error: (i) =>
          `expected "<n>/<sec|min|hour>" with n from 1 to ${MAX_RATE_LIMIT}, got ${JSON.stringify(i.input)}`,
      })
      .optional(),
    roles: z.array(text(128).min(1)).max(64).default([]),
    timeout: duration('1ms', '1h').optional(),
    websocket: websocketSettings.optional(),
    stream: streamSettings.optional(),
  }),
);

/** Entry file: relative to the manifest, never outside its folder. */
const entryFile = lazySchema(() =>
  text(1024).refine(
    (v) => {
      if (v === '' || path.isAbsolute(v) || path.win32.isAbsolute(v)) return false;
      const normal = path.posix.normalize(v.replaceAll('\\', '/'));
      return normal !== '..' && !normal.startsWith('../');
    },
    { error: (i) => `must be a file inside the plugin's folder, got ${JSON.stringify(i.input)}` },
  ),
);

const eventPattern = lazySchema(() =>
  text(256).regex(/^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/, {
    error: (i) =>
      `expected an event type like "track.played" or "track.*", got ${JSON.stringify(i.input)}`,
  }),
);

/** The most requests a `rate_limit` may allow per window. */
const MAX_RATE_LIMIT = 1_000_000_000;

/** The manifest as zod sees it, with defaults filled in. */
export const manifestSchema = lazySchema(() =>
  z
    .strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, {
        error: (i) =>
          `expected lower-case letters, digits and dashes (at most 64), got ${JSON.stringify(i.input)}`,
      }),
      version: semverVersion,
      description: text(4096).optional(),
      author: text(256).optional(),
      license: text(256).optional(),
      main: entryFile.optional(),
      runtime: z
        .strictObject({
          type: z.enum(['worker', 'process', 'wasm']).default('worker'),
          version: z.union([text(64), z.number().finite()]).optional(),
          command: nativeCommand.optional(),
        })
        .default({ type: 'worker' }),
      resources: z
        .strictObject({
          cpu: z.number().positive().max(64).default(1),
          memory: z.number().int().min(16).max(65_536).default(128),
          disk: z.number().int().nonnegative().max(1_048_576).optional(),
          network: z.number().nonnegative().max(1_000_000).optional(),
        })
        .default({ cpu: 1, memory: 128 }),
      endpoints: z.array(endpointSchema).max(1000).default([]),
      dependencies: z
        .array(
          z.strictObject({
            service: text(128).min(1),
            version: semverRange.default('*'),
            // ctx.call() to this service may name any userId; without it, a call acts for the caller of
            // the request being served, or for nobody (docs: "Identity through ctx.call").
            act_as_any_user: z.boolean().optional(),
          }),
        )
        .max(256)
        .default([]),
      feature_flags: z
        .array(
          z.strictObject({
            name: text(128).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/),
            default: z.boolean().default(false),
            description: text(4096).optional(),
          }),
        )
        .max(1000)
        .default([]),
      warm: z.boolean().optional(),
      health_check: z
        .strictObject({
          endpoint: text(1024).optional(),
          interval: duration('100ms', '24h').default('30s'),
          timeout: duration('1ms', '5m').default('5s'),
        })
        .default({ interval: '30s', timeout: '5s' }),
      permissions: z
        .strictObject({
          network: z.array(networkGrant).max(256).default([]),
          events: z
            .strictObject({
              subscribe: z.array(eventPattern).max(256).default([]),
              publish: z.array(eventPattern).max(256).default([]),
            })
            .default({ subscribe: [], publish: [] }),
        })
        .default({ network: [], events: { subscribe: [], publish: [] } }),
      metadata: z
        .record(text(128), text(4096))
        .refine((m) => Object.keys(m).length <= 256, { error: 'at most 256 entries' })
        .default({}),
    })
    .superRefine((m, ctx) => {
      const seen = new Map<string, number>();
      m.endpoints.forEach((e, i) => {
        const key = `${e.method} ${e.path.replace(/\{[^}]+\}/g, '{}')}`;
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['endpoints', i, 'path'],
            message: `duplicates endpoints.${first} (${e.method} ${m.endpoints[first]!.path})`,
          });
        } else seen.set(key, i);
        if (e.websocket !== undefined && e.stream !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['endpoints', i, 'stream'],
            message: 'an endpoint is either a WebSocket or a streamed response, not both',
          });
        }
        if (e.websocket !== undefined && e.method !== 'GET') {
          ctx.addIssue({
            code: 'custom',
            path: ['endpoints', i, 'method'],
            message: `a WebSocket endpoint is opened with GET, got ${e.method}`,
          });
        }
      });
      if (m.runtime.command !== undefined) {
        if (m.runtime.type !== 'process') {
          ctx.addIssue({
            code: 'custom',
            path: ['runtime', 'command'],
            message: `a native command runs in the process runtime only, and runtime.type is ${m.runtime.type}`,
          });
        }
        if (m.main !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['main'],
            message: 'a plugin with runtime.command has no main: the command names what runs',
          });
        }
      }
      const names = new Set<string>();
      m.feature_flags.forEach((f, i) => {
        if (names.has(f.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['feature_flags', i, 'name'],
            message: `duplicate flag "${f.name}"`,
          });
        }
        names.add(f.name);
      });
    }),
);

/** A validated, frozen `plugin.yaml`. */
export type Manifest = z.output<typeof manifestSchema>;
