import { describe, expect, it } from 'vitest';
import type { PluginEndpoint } from '../shared/types.js';
import { Router } from './router.js';

const ep = (method: string, path: string, extra: Partial<PluginEndpoint> = {}): PluginEndpoint => ({
  method,
  path,
  auth: 'none',
  roles: [],
  ...extra,
});

describe('Router', () => {
  it('finds the plugin, the params and the query', () => {
    const r = new Router<string>();
    r.add('recs', 'RECS', [
      ep('GET', '/recommendations'),
      ep('POST', '/recommendations/users/{user_id}/activity', { timeout: '2s' }),
    ]);
    const m = r.match('POST', '/recommendations/users/456/activity?since=2026');
    expect(m).toMatchObject({
      kind: 'found',
      params: { user_id: '456' },
      query: { since: '2026' },
      target: {
        plugin: 'RECS',
        key: 'POST /recommendations/users/{user_id}/activity',
        timeoutMs: 2000,
        hasParams: true,
      },
    });
  });

  it('tells 404 from 405 and lists the allowed methods', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/things/{id}'), ep('DELETE', '/things/{id}')]);
    expect(r.match('GET', '/nothing')).toEqual({ kind: 'not-found' });
    expect(r.match('PUT', '/things/1')).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'DELETE', 'HEAD'],
    });
  });

  it('serves HEAD with the GET route where there is no HEAD route of its own', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/things/{id}')]);
    expect(r.match('HEAD', '/things/1')).toMatchObject({ kind: 'found', params: { id: '1' } });
    expect(r.match('HEAD', '/nothing')).toEqual({ kind: 'not-found' });
  });

  it('refuses a second plugin on the same method and path shape, changing nothing', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/x/{id}')]);
    expect(() => r.add('b', 'B', [ep('GET', '/y'), ep('GET', '/x/{other}')])).toThrow(
      expect.objectContaining({
        code: 'PGW_ERR_ROUTE_CONFLICT',
        message: 'GET /x/{other} of plugin "b" is already served by plugin "a"',
      }),
    );
    expect(r.match('GET', '/y')).toEqual({ kind: 'not-found' });
  });

  it('removes a plugin’s routes', () => {
    const r = new Router<string>();
    const endpoints = [ep('GET', '/x')];
    r.add('a', 'A', endpoints);
    r.remove('a', endpoints);
    expect(r.match('GET', '/x')).toEqual({ kind: 'not-found' });
    r.add('b', 'B', endpoints);
    expect(r.match('GET', '/x')).toMatchObject({ kind: 'found', target: { plugin: 'B' } });
  });

  it('forgets a removed plugin: 404, no 405 from its methods, and its routes can be added again', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/things/{id}'), ep('DELETE', '/things/{id}'), ep('GET', '/a')]);
    r.add('b', 'B', [ep('POST', '/b')]);
    r.remove('a', [ep('GET', '/things/{id}'), ep('DELETE', '/things/{id}'), ep('GET', '/a')]);
    expect(r.match('GET', '/things/1')).toEqual({ kind: 'not-found' });
    expect(r.match('GET', '/a')).toEqual({ kind: 'not-found' });
    expect(r.match('POST', '/b')).toMatchObject({ kind: 'found', target: { plugin: 'B' } });
    r.add('c', 'C', [ep('GET', '/things/{key}')]);
    expect(r.match('GET', '/things/1')).toMatchObject({
      kind: 'found',
      target: { plugin: 'C' },
      params: { key: '1' },
    });
    expect(r.match('DELETE', '/things/1')).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD'],
    });
  });

  it('lets a live parametric route answer where a removed static one was', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/items/special')]);
    r.add('b', 'B', [ep('GET', '/items/{id}')]);
    r.remove('a', [ep('GET', '/items/special')]);
    expect(r.match('GET', '/items/special')).toMatchObject({
      kind: 'found',
      target: { plugin: 'B' },
      params: { id: 'special' },
    });
  });

  it('removes only the routes the named plugin owns', () => {
    const r = new Router<string>();
    r.add('a', 'A', [ep('GET', '/a')]);
    r.remove('other', [ep('GET', '/a')]);
    expect(r.match('GET', '/a')).toMatchObject({ kind: 'found', target: { plugin: 'A' } });
  });
});
