/**
 * The `plugin.yaml` schema (zod): the single source of truth for what a manifest may say.
 * The ADR's manifest is valid as written; unknown keys are errors so that a typo never silently
 * disables a limit.
 * @module
 */
import path from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { parseDuration, parseRate } from '../shared/duration.js';
import { parseNetworkGrant } from '../shared/network-allowlist.js';

/** Methods an endpoint may declare. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  error: (i) => `expected a duration like "500ms", "30s" or "2m", got ${JSON.stringify(i.input)}`,
});

/** A `permissions.network` entry: `host` or `host:port` (IPv6 in brackets). */
const networkGrant = z.string().superRefine((v, ctx) => {
  const grant = parseNetworkGrant(v);
  if (typeof grant === 'string') ctx.addIssue({ code: 'custom', message: grant });
});

const semverVersion = z.string().refine((v) => semver.valid(v) !== null, {
  error: (i) => `expected a semantic version like "1.2.3", got ${JSON.stringify(i.input)}`,
});

const semverRange = z.string().refine((v) => semver.validRange(v) !== null, {
  error: (i) => `expected a semver range like ">=1.0.0", got ${JSON.stringify(i.input)}`,
});

const method = z.preprocess(
  (v) => (typeof v === 'string' ? v.toUpperCase() : v),
  z.enum(HTTP_METHODS, {
    error: (i) => `expected one of ${HTTP_METHODS.join(', ')}, got ${JSON.stringify(i.input)}`,
  }),
);

/** `/tracks/{id}`: segments of letters, digits, `-._~` or a `{name}` parameter. */
const ENDPOINT_PATH = /^(\/([A-Za-z0-9\-._~]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+\/?$|^\/$/;

const endpoint = z.strictObject({
  path: z.string().regex(ENDPOINT_PATH, {
    error: (i) =>
      `expected an absolute path whose parameters are written {name}, got ${JSON.stringify(i.input)}`,
  }),
  method,
  auth: z.enum(['required', 'optional', 'none']).default('none'),
  rate_limit: z
    .string()
    .refine((v) => parseRate(v) !== undefined, {
      error: (i) => `expected "<n>/<sec|min|hour>" with n >= 1, got ${JSON.stringify(i.input)}`,
    })
    .optional(),
  roles: z.array(z.string().min(1)).default([]),
  timeout: duration.optional(),
});

/** Entry file: relative to the manifest, never outside its folder. */
const entryFile = z.string().refine(
  (v) => {
    if (v === '' || path.isAbsolute(v) || path.win32.isAbsolute(v)) return false;
    const normal = path.posix.normalize(v.replaceAll('\\', '/'));
    return normal !== '..' && !normal.startsWith('../');
  },
  { error: (i) => `must be a file inside the plugin's folder, got ${JSON.stringify(i.input)}` },
);

const eventPattern = z.string().regex(/^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/, {
  error: (i) =>
    `expected an event type like "track.played" or "track.*", got ${JSON.stringify(i.input)}`,
});

/** The manifest as zod sees it, with defaults filled in. */
export const manifestSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, {
      error: (i) =>
        `expected lower-case letters, digits and dashes (at most 64), got ${JSON.stringify(i.input)}`,
    }),
    version: semverVersion,
    description: z.string().optional(),
    author: z.string().optional(),
    license: z.string().optional(),
    main: entryFile.optional(),
    runtime: z
      .strictObject({
        type: z.enum(['worker', 'wasm']).default('worker'),
        version: z.union([z.string(), z.number()]).optional(),
      })
      .default({ type: 'worker' }),
    resources: z
      .strictObject({
        cpu: z.number().positive().max(64).default(1),
        memory: z.number().int().min(16).max(65_536).default(128),
        disk: z.number().int().nonnegative().optional(),
        network: z.number().nonnegative().optional(),
      })
      .default({ cpu: 1, memory: 128 }),
    endpoints: z.array(endpoint).default([]),
    dependencies: z
      .array(
        z.strictObject({
          service: z.string().min(1),
          version: semverRange.default('*'),
          // ctx.call() to this service may name any userId; without it, a call acts for the caller of
          // the request being served, or for nobody (docs: "Identity through ctx.call").
          act_as_any_user: z.boolean().optional(),
        }),
      )
      .default([]),
    feature_flags: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/),
          default: z.boolean().default(false),
          description: z.string().optional(),
        }),
      )
      .default([]),
    health_check: z
      .strictObject({
        endpoint: z.string().optional(),
        interval: duration.default('30s'),
        timeout: duration.default('5s'),
      })
      .default({ interval: '30s', timeout: '5s' }),
    permissions: z
      .strictObject({
        network: z.array(networkGrant).default([]),
        events: z
          .strictObject({
            subscribe: z.array(eventPattern).default([]),
            publish: z.array(eventPattern).default([]),
          })
          .default({ subscribe: [], publish: [] }),
      })
      .default({ network: [], events: { subscribe: [], publish: [] } }),
    metadata: z.record(z.string(), z.string()).default({}),
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
    });
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
  });

/** A validated, frozen `plugin.yaml`. */
export type Manifest = z.output<typeof manifestSchema>;
