import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestInvalidError } from '../errors.js';
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.js';

const ADR_YAML = readFileSync(
  path.resolve(import.meta.dirname, '../../test/fixtures/adr-plugin.yaml'),
  'utf8',
);

function problemsOf(text: string) {
  try {
    parseManifest(text, { file: 'plugin.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestInvalidError);
    expect((error as ManifestInvalidError).code).toBe('PGW_ERR_MANIFEST_INVALID');
    return error as ManifestInvalidError;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('parseManifest', () => {
  it("parses the ADR's own plugin.yaml, verbatim", () => {
    const m = parseManifest(ADR_YAML);
    expect(m.name).toBe('ai-recommendations');
    expect(m.runtime).toEqual({ type: 'wasm', version: 1 });
    expect(m.resources).toEqual({ cpu: 0.5, memory: 512, disk: 100 });
    expect(m.endpoints[1]).toMatchObject({
      path: '/recommendations/users/{user_id}/activity',
      method: 'POST',
      auth: 'required',
      rate_limit: '50/min',
    });
    expect(m.dependencies).toEqual([
      { service: 'user-profile', version: '>=1.0.0' },
      { service: 'track-analytics', version: '>=1.0.0' },
    ]);
    expect(m.feature_flags[0]).toMatchObject({ name: 'enable_ml_model', default: false });
    expect(m.health_check).toEqual({ endpoint: '/health', interval: '30s', timeout: '5s' });
  });

  it('fills in defaults and freezes the result', () => {
    const m = parseManifest('name: tiny\nversion: 0.0.1\n');
    expect(m.runtime.type).toBe('worker');
    expect(m.resources).toEqual({ cpu: 1, memory: 128 });
    expect(m.endpoints).toEqual([]);
    expect(m.permissions.events).toEqual({ subscribe: [], publish: [] });
    expect(Object.isFrozen(m) && Object.isFrozen(m.resources)).toBe(true);
  });

  it('normalises method case and accepts the auth, roles, timeout and main additions', () => {
    const m = parseManifest(
      'name: x\nversion: 1.0.0\nmain: lib/plugin.mjs\nendpoints:\n  - { path: /a, method: get, auth: optional, roles: [admin], timeout: 250ms }\n',
    );
    expect(m.main).toBe('lib/plugin.mjs');
    expect(m.endpoints[0]).toEqual({
      path: '/a',
      method: 'GET',
      auth: 'optional',
      roles: ['admin'],
      timeout: '250ms',
    });
  });

  it('rejects a misspelt key, naming the line, the field and the likely key', () => {
    const e = problemsOf(ADR_YAML.replace('rate_limit: 100/min', 'rate_limt: 100/min'));
    expect(e.message).toContain(
      'plugin.yaml:21:5 endpoints.0.rate_limt: unknown key "rate_limt" (did you mean "rate_limit"?)',
    );
  });

  it('suggests keys from the same level of the manifest, or says where a key belongs', () => {
    const top = problemsOf('name: a\nversion: 1.0.0\nendpoint:\n  - path: /a\n    method: GET\n');
    expect(top.message).toContain('endpoint: unknown key "endpoint" (did you mean "endpoints"?)');
    const misplaced = problemsOf('name: a\nversion: 1.0.0\ninterval: 10s\n');
    expect(misplaced.message).toContain(
      'interval: unknown key "interval" (it belongs under health_check)',
    );
    const nested = problemsOf(
      'name: a\nversion: 1.0.0\npermissions:\n  events:\n    subscribes: [a.b]\n',
    );
    expect(nested.message).toContain('(did you mean "subscribe"?)');
  });

  it('rejects a bad rate_limit', () => {
    const e = problemsOf(ADR_YAML.replace('rate_limit: 50/min', 'rate_limit: 50/fortnight'));
    expect(e.problems).toEqual([
      expect.objectContaining({
        line: 26,
        path: 'endpoints.1.rate_limit',
        message: expect.stringContaining('"50/fortnight"'),
      }),
    ]);
    expect(e.message).toMatch(/plugin\.yaml:26:\d+ endpoints\.1\.rate_limit:/);
  });

  it('rejects a version that is not semver, and a number where a string belongs', () => {
    expect(problemsOf(ADR_YAML.replace('version: 1.0.0', 'version: one')).message).toMatch(
      /plugin\.yaml:3:10 version: expected a semantic version/,
    );
    expect(problemsOf(ADR_YAML.replace('version: 1.0.0', 'version: 1.0')).message).toMatch(
      /plugin\.yaml:3:10 version: expected string, got number 1 \(quote it\)/,
    );
  });

  it('rejects a main that leaves its folder', () => {
    for (const main of ['../outside.js', '/etc/passwd', 'lib/../../x.js']) {
      const e = problemsOf(`name: x\nversion: 1.0.0\nmain: ${main}\n`);
      expect(e.message).toMatch(/plugin\.yaml:3:7 main: must be a file inside the plugin's folder/);
    }
  });

  it('rejects broken YAML with its position', () => {
    const e = problemsOf('name: x\nversion: 1.0.0\nendpoints: [\n  - path: /a\n');
    expect(e.problems.length).toBeGreaterThan(0);
    expect(e.problems[0]).toMatchObject({ file: 'plugin.yaml', path: '' });
    expect(e.problems[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('rejects a bad method', () => {
    const e = problemsOf(ADR_YAML.replace('method: POST', 'method: FETCH'));
    expect(e.message).toContain(
      'plugin.yaml:24:13 endpoints.1.method: expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "FETCH"',
    );
  });

  it('lists every problem at once, in file order', () => {
    const e = problemsOf(
      'name: Bad Name\nversion: x\nresources:\n  memroy: 64\nendpoints:\n  - { path: nope, method: GET }\n',
    );
    expect(e.problems.map((p) => p.path)).toEqual([
      'name',
      'version',
      'resources.memroy',
      'endpoints.0.path',
    ]);
    expect(e.problems.map((p) => p.line)).toEqual([1, 2, 4, 6]);
  });

  it('points a missing required field at the mapping that lacks it', () => {
    const e = problemsOf('version: 1.0.0\n');
    expect(e.message).toContain('plugin.yaml:1:1 name: is required');
  });

  it('rejects duplicate endpoints and duplicate keys', () => {
    expect(
      problemsOf(
        'name: x\nversion: 1.0.0\nendpoints:\n  - path: /a/{id}\n    method: GET\n  - path: /a/{key}\n    method: GET\n',
      ).message,
    ).toContain('endpoints.1.path: duplicates endpoints.0');
    expect(problemsOf('name: x\nname: y\nversion: 1.0.0\n').message).toMatch(
      /plugin\.yaml:2:1 \(document\): Map keys must be unique/,
    );
  });

  it('uses the file name it is given', () => {
    expect(() => parseManifest('name: 1\n', { file: '/srv/plugins/a/plugin.yaml' })).toThrow(
      /\/srv\/plugins\/a\/plugin\.yaml:1:7 name:/,
    );
  });
});

describe('parseManifest bounds', () => {
  const base = 'name: x\nversion: 1.0.0\n';

  it('refuses durations a timer cannot hold, or that would spin, and says where', () => {
    expect(problemsOf(`${base}health_check:\n  interval: 600h\n`).message).toContain(
      'plugin.yaml:4:13 health_check.interval: expected a duration from 100ms to 24h, got "600h"',
    );
    expect(problemsOf(`${base}health_check:\n  interval: 10ms\n`).message).toContain(
      'health_check.interval: expected a duration from 100ms to 24h',
    );
    expect(problemsOf(`${base}health_check:\n  timeout: 6m\n`).message).toContain(
      'health_check.timeout: expected a duration from 1ms to 5m',
    );
    expect(
      problemsOf(`${base}endpoints:\n  - path: /a\n    method: GET\n    timeout: 2h\n`).message,
    ).toContain('endpoints.0.timeout: expected a duration from 1ms to 1h, got "2h"');
    expect(
      problemsOf(`${base}endpoints:\n  - path: /a\n    method: GET\n    timeout: 0ms\n`).message,
    ).toContain('endpoints.0.timeout: expected a duration from 1ms to 1h');
    expect(
      parseManifest(`${base}health_check:\n  interval: 24h\n  timeout: 5m\n`).health_check,
    ).toMatchObject({ interval: '24h', timeout: '5m' });
  });

  it('refuses sizes and counts past their bounds', () => {
    const rate = `${base}endpoints:\n  - path: /a\n    method: GET\n    rate_limit: 99999999999999999999/sec\n`;
    expect(problemsOf(rate).message).toContain(
      'endpoints.0.rate_limit: expected "<n>/<sec|min|hour>"',
    );
    expect(problemsOf(`${base}resources:\n  disk: 1e12\n`).message).toContain('resources.disk');
    expect(problemsOf(`${base}description: ${'d'.repeat(5000)}\n`).message).toContain(
      'description',
    );
    const roles = Array.from({ length: 65 }, (_, n) => `r${n}`).join(', ');
    expect(
      problemsOf(`${base}endpoints:\n  - path: /a\n    method: GET\n    roles: [${roles}]\n`)
        .message,
    ).toContain('endpoints.0.roles');
  });

  it('refuses more than 1,000 endpoints and 256 dependencies', () => {
    const endpoints = Array.from({ length: 1001 }, (_, n) => `  - { path: /e${n}, method: GET }`);
    expect(problemsOf(`${base}endpoints:\n${endpoints.join('\n')}\n`).message).toContain(
      'endpoints',
    );
    const deps = Array.from({ length: 257 }, (_, n) => `  - { service: s${n} }`);
    expect(problemsOf(`${base}dependencies:\n${deps.join('\n')}\n`).message).toContain(
      'dependencies',
    );
  });

  it('a YAML slip is one located problem that says what to fix', () => {
    const tab = problemsOf('name: a\n\tversion: 1.0.0\n');
    expect(tab.message).toContain(
      'plugin.yaml:2:1 (document): Tabs are not allowed as indentation — indent with spaces, not tabs',
    );
    const shifted = problemsOf(
      'name: a\nversion: 1.0.0\nendpoints:\n  - path: /x\n  method: GET\n',
    );
    expect(shifted.message).toContain(
      'All mapping items must start at the same column — the fields of one mapping start at the same column',
    );
    expect(shifted.message.split('\n').filter((l) => l.includes('plugin.yaml:'))).toHaveLength(1);
  });

  it('refuses a manifest larger than 256 KiB before parsing it', () => {
    const big = `${base}description: x\n${'#'.repeat(MAX_MANIFEST_BYTES)}\n`;
    expect(problemsOf(big).message).toContain('plugin.yaml:1:1 (document): larger than 256 KiB');
    // Counted in bytes, not characters.
    const wide = `${base}# ${'é'.repeat(MAX_MANIFEST_BYTES / 2)}\n`;
    expect(problemsOf(wide).message).toContain('larger than 256 KiB');
  });

  it('refuses an alias bomb as an invalid manifest, never a raw error', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const e = problemsOf(`${base}metadata:\n  ${lines.join('\n  ')}\n`);
    expect(e.message).toContain('plugin.yaml:1:1 (document): its aliases expand too far');
  });

  it('still accepts a few aliases', () => {
    const m = parseManifest(
      `${base}endpoints:\n  - path: /a\n    method: GET\n    roles: &admins [admin, ops]\n  - path: /b\n    method: GET\n    roles: *admins\n`,
    );
    expect(m.endpoints[1]!.roles).toEqual(['admin', 'ops']);
  });

  it('refuses a deeply nested document', () => {
    const flow = `${base}metadata: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    expect(problemsOf(flow).message).toMatch(/plugin\.yaml:\d+:\d+ \(document\): /);
    const block = `${base}metadata:\n${Array.from({ length: 40 }, (_, n) => `${'  '.repeat(n + 1)}k${n}:`).join('\n')} v\n`;
    expect(problemsOf(block).message).toMatch(/\(document\): nested more than 16 levels deep/);
  });
});
