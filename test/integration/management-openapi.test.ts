/**
 * The OpenAPI document against what is served: every path and method in the document is served, every
 * served route is in the document, and the answers of the calls below match the document's schemas
 * (checked by a small JSON Schema 2020-12 validator for the keywords the document uses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../src/management/routes.js';
import { ADMIN, managedServer, post, type ManagedServer, json } from '../management-server.js';

type Schema = Record<string, unknown>;

/** Problems of `value` against `schema` (type, properties, required, items, enum, const, anyOf, additionalProperties, $ref). */
function validate(value: unknown, schema: Schema, root: Schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, key) => (node as Schema)[key], root) as Schema;
    return validate(value, target, root, at);
  }
  if (Array.isArray(schema.anyOf)) {
    const fits = (schema.anyOf as Schema[]).some((s) => validate(value, s, root, at).length === 0);
    return fits ? [] : [`${at}: matches no anyOf branch`];
  }
  if ('const' in schema && value !== schema.const) return [`${at}: not ${String(schema.const)}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    return [`${at}: ${String(value)} not in enum`];
  const type = schema.type as string | undefined;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (type === 'integer' ? !Number.isInteger(value) : type !== undefined && type !== actual) {
    return [`${at}: expected ${type}, got ${actual}`];
  }
  const problems: string[] = [];
  if (actual === 'object' && type === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in object)) problems.push(`${at}.${key}: missing`);
    }
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) problems.push(...validate(v, properties[key], root, `${at}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${at}.${key}: not allowed`);
      else if (typeof schema.additionalProperties === 'object') {
        problems.push(...validate(v, schema.additionalProperties as Schema, root, `${at}.${key}`));
      }
    }
  }
  if (actual === 'array' && schema.items) {
    (value as unknown[]).forEach((v, i) =>
      problems.push(...validate(v, schema.items as Schema, root, `${at}[${i}]`)),
    );
  }
  return problems;
}

let served: ManagedServer;
let doc: Schema & { paths: Record<string, Record<string, Schema>> };
beforeAll(async () => {
  served = await managedServer(['faulty', 'echo'], {
    sampleInterval: 50,
    alerts: { rules: [{ kind: 'error_rate', threshold: 0.5, window: '10s' }] },
  });
  const res = await fetch(`${served.base}/admin/openapi.json`, { headers: ADMIN });
  expect(res.headers.get('content-type')).toBe('application/json');
  doc = await json(res);
  // Something in every list: a request, an error (an alert), an event, a sample.
  const firing = new Promise<void>((resolve) =>
    served.management.alerts!.on('alert:firing', () => resolve()),
  );
  await fetch(`${served.base}/api/faulty/throw`);
  await fetch(`${served.base}/api/faulty/ok`);
  await firing;
});
afterAll(() => served.close());

/** The path with `{name}` filled in with a loaded plugin. */
const concrete = (p: string) => p.replace('{name}', 'faulty');

describe('management OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists exactly the served routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const servedRoutes = [
      'GET /',
      'GET /dashboard',
      'GET /openapi.json',
      ...routes.map((r) => `${r.method} ${r.path}`),
    ];
    expect(documented.sort()).toEqual(servedRoutes.sort());
  });

  it('serves every documented GET, with an answer that matches its schema', async () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!ops.get) continue;
      const res = await fetch(`${served.base}/admin${concrete(p)}`, { headers: ADMIN });
      expect(res.status, p).toBe(200);
      const content = (ops.get.responses as Record<string, Schema>)['200']!.content as Record<
        string,
        { schema: Schema }
      >;
      const [type, { schema }] = Object.entries(content)[0]!;
      expect(res.headers.get('content-type'), p).toContain(type);
      const body = type === 'application/json' ? await json(res) : await res.text();
      expect(validate(body, schema, doc), p).toEqual([]);
      if (p === '/api/overview') {
        expect(body.plugins[0].samples.length).toBeGreaterThan(0);
        expect(body.alerts.firing).toHaveLength(1);
        expect(body.events.length).toBeGreaterThan(0);
      }
    }
  });

  it('serves every documented POST, with answers (success and errors) that match their schemas', async () => {
    // unload last but the refused load; the version and flag actions answer their documented errors
    const order = [
      'disable',
      'enable',
      'swap',
      'rollback',
      'pin',
      'unpin',
      'flags',
      'unload',
      'plugins',
    ];
    const tried: Record<string, [object, string]> = {
      '/api/plugins': [{ dir: '/etc' }, '403'],
      '/api/plugins/{name}/swap': [{ dir: '/etc' }, '403'],
      '/api/plugins/{name}/rollback': [{}, '404'],
      '/api/plugins/{name}/pin': [{ version: '9.9.9' }, '404'],
      '/api/plugins/{name}/flags': [{ flag: 'nope', value: true }, '422'],
    };
    const posts = Object.entries(doc.paths)
      .filter(([, ops]) => ops.post)
      .sort(
        ([a], [b]) => order.findIndex((o) => a.endsWith(o)) - order.findIndex((o) => b.endsWith(o)),
      );
    expect(posts.length).toBe(routes.filter((r) => r.method === 'POST').length);
    for (const [p, ops] of posts) {
      const [body0, expected] = tried[p] ?? [{}, '2'];
      const res = await post(served.base, concrete(p), body0);
      const status = String(res.status);
      const responses = ops.post!.responses as Record<
        string,
        { content: Record<string, { schema: Schema }> }
      >;
      expect(Object.keys(responses), `${p} answered ${status}`).toContain(status);
      expect(expected.length === 1 ? status[0] : status, p).toBe(expected);
      const body = await json(res);
      expect(
        validate(body, responses[status]!.content['application/json']!.schema, doc),
        p,
      ).toEqual([]);
    }
    const notFound = await post(served.base, '/api/plugins/faulty/disable');
    expect(notFound.status).toBe(404);
    const body = await json(notFound);
    const schema = (
      doc.paths['/api/plugins/{name}/disable']!.post!.responses as Record<
        string,
        { content: Record<string, { schema: Schema }> }
      >
    )['404']!.content['application/json']!.schema;
    expect(validate(body, schema, doc)).toEqual([]);
  });

  it('the validator catches a mismatch (it is not vacuous)', () => {
    const schema = (
      doc.paths['/api/plugins']!.get!.responses as Record<
        string,
        { content: Record<string, { schema: Schema }> }
      >
    )['200']!.content['application/json']!.schema;
    expect(validate([{ name: 1 }], schema, doc).length).toBeGreaterThan(0);
    expect(validate({}, schema, doc)).toEqual(['$: expected array, got object']);
  });
});
