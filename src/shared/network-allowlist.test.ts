import { describe, expect, it } from 'vitest';
import { isGranted, parseNetworkGrant, parseNetworkGrants } from './network-allowlist.js';

describe('permissions.network entries', () => {
  it('are a host, a host:port, or an IPv6 address in brackets', () => {
    expect(parseNetworkGrant('api.example.com')).toEqual({
      host: 'api.example.com',
      port: undefined,
    });
    expect(parseNetworkGrant('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseNetworkGrant('[::1]:443')).toEqual({ host: '::1', port: 443 });
  });

  it('refuse URLs, wildcards, empty hosts and ports out of range, saying what is expected', () => {
    for (const bad of ['http://a.com', '*.example.com', ':80', 'a.com:0', 'a.com:70000', '::1']) {
      expect(parseNetworkGrant(bad)).toMatch(/host|port/);
    }
  });

  it('admit the host as written, any port unless one is given; names are not resolved', () => {
    const grants = parseNetworkGrants(['127.0.0.1', 'API.example.com:443', '[::1]:8080']);
    expect(isGranted(grants, '127.0.0.1', 9)).toBe(true);
    expect(isGranted(grants, 'localhost', 9)).toBe(false);
    expect(isGranted(grants, 'api.example.com', 443)).toBe(true);
    expect(isGranted(grants, 'api.example.com', 80)).toBe(false);
    expect(isGranted(grants, '[::1]', 8080)).toBe(true);
  });
});
