import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ManifestInvalidError } from '../errors.js';
import { parseManifest } from './manifest.js';

/**
 * Every bound docs/reference/plugin-yaml.md promises, at its edge: the last value accepted and the
 * first refused, on both sides. The refusal must be the manifest's only problem, named by its path.
 */

/** Valid as it stands; each case sets one field (the lists hold one element to set fields in). */
const BASE = {
  name: 'bounds',
  version: '1.0.0',
  endpoints: [{ path: '/a', method: 'GET' }],
  dependencies: [{ service: 'other' }],
  feature_flags: [{ name: 'flag' }],
};

const chars = (n: number, c = 'a') => c.repeat(n);
const many = <T>(n: number, item: (i: number) => T) => Array.from({ length: n }, (_, i) => item(i));
const MiB = 1024 * 1024;

/** `endpoints.0.websocket.max_connections` → the document with that value set. */
function withValue(path: string, value: unknown): Record<string, unknown> {
  const doc = structuredClone(BASE) as Record<string, unknown>;
  const steps = path.split('.');
  let at = doc as Record<string, unknown>;
  steps.slice(0, -1).forEach((step, i) => {
    if (at[step] == null) at[step] = /^\d+$/.test(steps[i + 1]!) ? [] : {};
    at = at[step] as Record<string, unknown>;
  });
  at[steps.at(-1)!] = value;
  return doc;
}

function problemsOf(doc: Record<string, unknown>) {
  try {
    parseManifest(stringify(doc), { file: 'plugin.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestInvalidError);
    return (error as ManifestInvalidError).problems;
  }
  return [];
}

interface Bound {
  field: string;
  /** Values at the edges, accepted. */
  ok: unknown[];
  /** Values just past the edges, refused with a problem at `field`. */
  bad: unknown[];
}

const BOUNDS: Bound[] = [
  { field: 'name', ok: ['a', '0-x', chars(64)], bad: ['', chars(65), '-a', 'A', 'a_b'] },
  { field: 'version', ok: ['0.0.1', '1.2.3-rc.1'], bad: ['1.2', 'v one'] },
  { field: 'description', ok: [chars(4096)], bad: [chars(4097)] },
  { field: 'author', ok: [chars(256)], bad: [chars(257)] },
  { field: 'license', ok: [chars(256)], bad: [chars(257)] },
  {
    field: 'main',
    ok: ['index.js', 'lib/a.mjs', 'a/../b.js', '..a.js'],
    bad: ['', '/etc/passwd', 'C:\\x.js', '..', '../x.js', 'a/../../x.js', '..\\x.js'],
  },
  { field: 'runtime.version', ok: [chars(64), 22], bad: [chars(65)] },
  { field: 'resources.cpu', ok: [0.25, 64], bad: [0, -1, 64.5] },
  { field: 'resources.memory', ok: [16, 65_536], bad: [15, 65_537, 128.5] },
  { field: 'resources.disk', ok: [0, 1_048_576], bad: [-1, 1_048_577, 1.5] },
  { field: 'resources.network', ok: [0, 0.5, 1_000_000], bad: [-0.5, 1_000_001] },
  {
    field: 'endpoints',
    ok: [many(1000, (i) => ({ path: `/e${i}`, method: 'GET' }))],
    bad: [many(1001, (i) => ({ path: `/e${i}`, method: 'GET' }))],
  },
  {
    field: 'endpoints.0.path',
    ok: ['/', '/a/', '/a/{id}', '/{user_id}/x.y~z-w', `/${chars(1023)}`],
    bad: ['a', 'api/x', '//', '/a b', '/a?x=1', '/{1x}', '/{id', '/{}', `/${chars(1024)}`],
  },
  { field: 'endpoints.0.method', ok: ['get', 'OPTIONS'], bad: ['TRACE', 1] },
  { field: 'endpoints.0.auth', ok: ['required', 'optional'], bad: ['always'] },
  {
    field: 'endpoints.0.rate_limit',
    ok: ['1/sec', '1000000000/hour'],
    bad: ['1000000001/sec', '10/day', 'often', '0/sec'],
  },
  { field: 'endpoints.0.roles', ok: [many(64, (i) => `r${i}`)], bad: [many(65, (i) => `r${i}`)] },
  { field: 'endpoints.0.roles.0', ok: [chars(128)], bad: ['', chars(129)] },
  { field: 'endpoints.0.timeout', ok: ['1ms', '1h'], bad: ['0ms', '61m', 'soon'] },
  {
    field: 'endpoints.0.websocket.max_message_bytes',
    ok: [1, 64 * MiB],
    bad: [0, 64 * MiB + 1],
  },
  {
    field: 'endpoints.0.websocket.max_buffered_bytes',
    ok: [1024, 256 * MiB],
    bad: [1023, 256 * MiB + 1],
  },
  { field: 'endpoints.0.websocket.max_connections', ok: [1, 1_000_000], bad: [0, 1_000_001] },
  {
    field: 'endpoints.0.websocket.message_rate_limit',
    ok: ['10/sec', '1000000000/min'],
    bad: ['10/day', '1000000001/sec'],
  },
  {
    field: 'endpoints.0.websocket.origins',
    ok: [
      ['*', 'https://app.example.com', 'http://a-b.c:8080', 'https://[::1]:443'],
      ['http://[::1]:8080', 'https://[2001:db8::1]'],
      many(256, (i) => `https://h${i}.example`),
    ],
    bad: [many(257, (i) => `https://h${i}.example`)],
  },
  {
    field: 'endpoints.0.websocket.origins.0',
    ok: [`https://${chars(504)}`],
    bad: [
      'ftp://a.example',
      'https://a.example/path',
      'https://a.example:123456',
      'app.example.com',
      'https://a.example*',
      `https://${chars(505)}`,
    ],
  },
  { field: 'endpoints.0.websocket.idle_timeout', ok: ['1s', '24h'], bad: ['999ms', '25h'] },
  { field: 'endpoints.0.stream.first_byte_timeout', ok: ['1ms', '1h'], bad: ['0ms', '61m'] },
  { field: 'endpoints.0.stream.idle_timeout', ok: ['1s', '24h'], bad: ['999ms', '25h'] },
  { field: 'endpoints.0.stream.total_timeout', ok: ['1s', '24h'], bad: ['999ms', '25h'] },
  { field: 'endpoints.0.stream.max_chunk_bytes', ok: [1, 64 * MiB], bad: [0, 64 * MiB + 1] },
  {
    field: 'dependencies',
    ok: [many(256, (i) => ({ service: `s${i}` }))],
    bad: [many(257, (i) => ({ service: `s${i}` }))],
  },
  { field: 'dependencies.0.service', ok: ['s', chars(128)], bad: ['', chars(129)] },
  { field: 'dependencies.0.version', ok: ['>=1.0.0 <2', '*'], bad: ['newest'] },
  {
    field: 'feature_flags',
    ok: [many(1000, (i) => ({ name: `f${i}` }))],
    bad: [many(1001, (i) => ({ name: `f${i}` }))],
  },
  {
    field: 'feature_flags.0.name',
    ok: ['_a', 'a.b-c_9', chars(128)],
    bad: ['1a', '-a', 'a b', chars(129)],
  },
  { field: 'feature_flags.0.description', ok: [chars(4096)], bad: [chars(4097)] },
  { field: 'health_check.endpoint', ok: [`/${chars(1023)}`], bad: [`/${chars(1024)}`] },
  { field: 'health_check.interval', ok: ['100ms', '24h'], bad: ['99ms', '25h'] },
  { field: 'health_check.timeout', ok: ['1ms', '5m'], bad: ['0ms', '301s'] },
  {
    field: 'permissions.network',
    ok: [['example.com', 'example.com:443', '[::1]:8080'], many(256, (i) => `h${i}.example`)],
    bad: [many(257, (i) => `h${i}.example`)],
  },
  {
    field: 'permissions.network.0',
    ok: ['a.example:65535', '[fe80::1]'],
    bad: ['a.example:0', 'a.example:65536', 'http://a.example', `${chars(64)}.com`],
  },
  {
    field: 'permissions.events.subscribe',
    ok: [
      ['*', 'a', 'a.b', 'a.*', 'a_b-c.d', 'track.played', 'user.profile.*'],
      many(256, (i) => `e${i}`),
    ],
    bad: [many(257, (i) => `e${i}`)],
  },
  {
    field: 'permissions.events.publish.0',
    ok: [chars(256)],
    bad: ['.a', 'a.', 'a.*.b', '**', 'a b', '*.a', chars(257)],
  },
  {
    field: 'permissions.events.publish',
    ok: [many(256, (i) => `e${i}`)],
    bad: [many(257, (i) => `e${i}`)],
  },
  {
    field: 'metadata',
    ok: [Object.fromEntries(many(256, (i) => [`k${i}`, 'v']))],
    bad: [Object.fromEntries(many(257, (i) => [`k${i}`, 'v']))],
  },
  { field: 'metadata.k', ok: [chars(4096)], bad: [chars(4097)] },
];

describe('every bound of plugin.yaml, at its edge', () => {
  it.each(BOUNDS)('$field', ({ field, ok, bad }) => {
    for (const value of ok) {
      expect(problemsOf(withValue(field, value)), `${field} = ${String(value)}`).toEqual([]);
    }
    for (const value of bad) {
      const problems = problemsOf(withValue(field, value));
      expect(problems, `${field} = ${String(value).slice(0, 80)}`).toEqual([
        expect.objectContaining({ path: field }),
      ]);
      expect(problems[0]!.line).toBeGreaterThan(0);
    }
  });

  it('refuses a metadata key past 128 characters, naming it', () => {
    const key = chars(129);
    expect(problemsOf(withValue('metadata', { [key]: 'v' }))).toEqual([
      expect.objectContaining({ path: `metadata.${key}` }),
    ]);
    expect(problemsOf(withValue('metadata', { [chars(128)]: 'v' }))).toEqual([]);
  });

  it('says what a duration must look like, and its range', () => {
    const [garbage] = problemsOf(withValue('health_check.interval', 'soon'));
    expect(garbage!.message).toBe('expected a duration like "500ms", "30s" or "2m", got "soon"');
    // Past 32 characters a duration is not parsed at all, and is quoted cut short.
    const long = `${'0'.repeat(100)}1s`;
    const [tooLong] = problemsOf(withValue('health_check.interval', long));
    expect(tooLong!.message).toBe(
      `expected a duration like "500ms", "30s" or "2m", got "${long.slice(0, 64)}…"`,
    );
    const [outside] = problemsOf(withValue('health_check.interval', '25h'));
    expect(outside!.message).toBe('expected a duration from 100ms to 24h, got "25h"');
    // Up to 32 characters, and quoted whole up to 64.
    expect(problemsOf(withValue('health_check.interval', `${'0'.repeat(29)}30s`))).toEqual([]);
    const sixtyFour = `${'9'.repeat(62)}ms`;
    const [quoted] = problemsOf(withValue('health_check.interval', sixtyFour));
    expect(quoted!.message).toBe(
      `expected a duration like "500ms", "30s" or "2m", got "${sixtyFour}"`,
    );
  });

  it('fills in the defaults of every optional section and field', () => {
    const m = parseManifest(stringify({ name: 'bare', version: '1.0.0' }));
    expect(m).toMatchObject({
      runtime: { type: 'worker' },
      endpoints: [],
      dependencies: [],
      feature_flags: [],
      health_check: { interval: '30s', timeout: '5s' },
      permissions: { network: [], events: { subscribe: [], publish: [] } },
      metadata: {},
    });
    const partial = parseManifest(
      stringify({
        ...BASE,
        runtime: { version: 1 },
        health_check: { endpoint: '/a' },
        permissions: { network: ['a.example'] },
      }),
    );
    expect(partial.runtime).toEqual({ type: 'worker', version: 1 });
    expect(partial.endpoints[0]).toEqual({ path: '/a', method: 'GET', auth: 'none', roles: [] });
    expect(partial.dependencies[0]).toEqual({ service: 'other', version: '*' });
    expect(partial.feature_flags[0]).toEqual({ name: 'flag', default: false });
    expect(partial.health_check).toEqual({ endpoint: '/a', interval: '30s', timeout: '5s' });
    expect(partial.permissions.events).toEqual({ subscribe: [], publish: [] });
    const events = parseManifest(
      stringify({ ...BASE, permissions: { events: { subscribe: ['a.b'] } } }),
    );
    expect(events.permissions).toEqual({
      network: [],
      events: { subscribe: ['a.b'], publish: [] },
    });
    const published = parseManifest(
      stringify({ ...BASE, permissions: { events: { publish: ['a.b'] } } }),
    );
    expect(published.permissions.events).toEqual({ subscribe: [], publish: ['a.b'] });
    for (const type of ['worker', 'process', 'wasm']) {
      expect(problemsOf(withValue('runtime.type', type)), type).toEqual([]);
    }
  });

  it('fills in the defaults of websocket: true and stream: true', () => {
    const m = parseManifest(
      stringify({
        ...BASE,
        endpoints: [
          { path: '/ws', method: 'GET', websocket: true },
          { path: '/sse', method: 'GET', stream: true },
        ],
      }),
    );
    expect(m.endpoints[0]!.websocket).toEqual({
      max_message_bytes: MiB,
      max_buffered_bytes: MiB,
      max_connections: 10_000,
      idle_timeout: '60s',
    });
    expect(m.endpoints[1]!.stream).toEqual({
      first_byte_timeout: '30s',
      idle_timeout: '60s',
      total_timeout: '1h',
      max_chunk_bytes: MiB,
      request_body: false,
      max_request_bytes: 1024 * MiB,
    });
  });
});

describe('rules across fields', () => {
  const endpoints = (...list: Record<string, unknown>[]) => withValue('endpoints', list);

  it('refuses an endpoint that is both a WebSocket and a stream, or a WebSocket not opened with GET', () => {
    expect(
      problemsOf(endpoints({ path: '/a', method: 'GET', websocket: true, stream: true })),
    ).toEqual([
      expect.objectContaining({
        path: 'endpoints.0.stream',
        message: 'an endpoint is either a WebSocket or a streamed response, not both',
      }),
    ]);
    expect(problemsOf(endpoints({ path: '/a', method: 'POST', websocket: true }))).toEqual([
      expect.objectContaining({
        path: 'endpoints.0.method',
        message: 'a WebSocket endpoint is opened with GET, got POST',
      }),
    ]);
    expect(problemsOf(endpoints({ path: '/a', method: 'POST', stream: true }))).toEqual([]);
  });

  it('refuses two endpoints that differ only in the names of their parameters', () => {
    expect(
      problemsOf(
        endpoints(
          { path: '/u/{id}/x', method: 'GET' },
          { path: '/u/{name}/x', method: 'GET' },
          { path: '/u/{id}/x', method: 'POST' },
          { path: '/u/{id}/y', method: 'GET' },
        ),
      ),
    ).toEqual([
      expect.objectContaining({
        path: 'endpoints.1.path',
        message: 'duplicates endpoints.0 (GET /u/{id}/x)',
      }),
    ]);
  });

  it('refuses a feature flag declared twice, at the second', () => {
    expect(
      problemsOf(withValue('feature_flags', [{ name: 'a' }, { name: 'b' }, { name: 'a' }])),
    ).toEqual([
      expect.objectContaining({ path: 'feature_flags.2.name', message: 'duplicate flag "a"' }),
    ]);
  });

  it('names the allowed values in its refusals', () => {
    const [method] = problemsOf(withValue('endpoints.0.method', 'TRACE'));
    expect(method!.message).toBe(
      'expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "TRACE"',
    );
    const [version] = problemsOf(withValue('version', '1.2'));
    expect(version!.message).toBe('expected a semantic version like "1.2.3", got "1.2"');
    const [range] = problemsOf(withValue('dependencies.0.version', 'newest'));
    expect(range!.message).toBe('expected a semver range like ">=1.0.0", got "newest"');
    const [main] = problemsOf(withValue('main', '../x.js'));
    expect(main!.message).toBe(`must be a file inside the plugin's folder, got "../x.js"`);
    const [rate] = problemsOf(withValue('endpoints.0.rate_limit', '10/day'));
    expect(rate!.message).toBe(
      'expected "<n>/<sec|min|hour>" with n from 1 to 1000000000, got "10/day"',
    );
    const [wsRate] = problemsOf(withValue('endpoints.0.websocket.message_rate_limit', '10/day'));
    expect(wsRate!.message).toBe(rate!.message);
    const [name] = problemsOf(withValue('name', 'A'));
    expect(name!.message).toBe(
      'expected lower-case letters, digits and dashes (at most 64), got "A"',
    );
    const [path] = problemsOf(withValue('endpoints.0.path', 'a'));
    expect(path!.message).toBe(
      'expected an absolute path whose parameters are written {name}, got "a"',
    );
    const [origin] = problemsOf(withValue('endpoints.0.websocket.origins', ['ftp://a']));
    expect(origin!.message).toBe(
      'expected an origin like "https://app.example.com" or "*", got "ftp://a"',
    );
    const [grant] = problemsOf(withValue('permissions.network', ['a.example:0']));
    expect(grant!.message).toBe('"a.example:0": port out of 1-65535');
    const [event] = problemsOf(withValue('permissions.events.subscribe', ['a.']));
    expect(event!.message).toBe(
      'expected an event type like "track.played" or "track.*", got "a."',
    );
    const [metadata] = problemsOf(
      withValue('metadata', Object.fromEntries(many(257, (i) => [`k${i}`, 'v']))),
    );
    expect(metadata!.message).toBe('at most 256 entries');
  });
});
