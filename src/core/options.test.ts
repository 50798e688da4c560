import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { resolveOptions } from './options.js';

describe('resolveOptions', () => {
  it("applies the ADR's defaults", () => {
    const o = resolveOptions();
    expect(o).toMatchObject({
      maxPlugins: 1000,
      pluginTimeout: 5000,
      circuitBreaker: { failureThreshold: 5, timeout: 30_000, halfOpenLimit: 1 },
      rateLimiting: { store: 'memory' },
      featureFlags: { overrides: {} },
      idleTimeout: 30_000,
      restart: { maxCrashes: 5, window: 60_000, backoff: 100, maxBackoff: 5000 },
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.circuitBreaker)).toBe(true);
    expect(Object.isFrozen(o.featureFlags.overrides)).toBe(true);
  });

  it("freezes the host's data but not the live objects it hands in", () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const o = resolveOptions({ logger, featureFlags: { overrides: { recs: { fast: true } } } });
    expect(Object.isFrozen(o.featureFlags.overrides.recs)).toBe(true);
    expect(o.logger).toBe(logger);
    expect(Object.isFrozen(logger)).toBe(false);
  });

  it('suggests an option of the same level for a misspelt one', () => {
    expect(() => resolveOptions({ circuitBreaker: { failureTreshold: 3 } } as never)).toThrow(
      'Unknown option `circuitBreaker.failureTreshold` (did you mean "failureThreshold"?)',
    );
    expect(() => resolveOptions({ halfOpenLimit: 2 } as never)).toThrow(
      'Unknown option `halfOpenLimit` (it belongs under circuitBreaker)',
    );
  });

  it('reads durations as strings or milliseconds', () => {
    expect(resolveOptions({ pluginTimeout: '250ms', idleTimeout: 1500 })).toMatchObject({
      pluginTimeout: 250,
      idleTimeout: 1500,
    });
  });

  it('refuses durations a timer would overflow on', () => {
    expect(() => resolveOptions({ pluginTimeout: '600h' })).toThrow(
      'Expected `pluginTimeout` to be a duration like "500ms", "30s" or a number of milliseconds, at most 1h, got `"600h"`',
    );
    expect(() => resolveOptions({ idleTimeout: 2 ** 31 })).toThrow(/`idleTimeout`.*at most 24h/);
    expect(() => resolveOptions({ circuitBreaker: { timeout: '25h' } })).toThrow(
      /`circuitBreaker.timeout`/,
    );
    expect(resolveOptions({ pluginTimeout: '1h', stopTimeout: '24h' })).toMatchObject({
      pluginTimeout: 3_600_000,
      stopTimeout: 86_400_000,
    });
  });

  it("rejects bad values in p-queue's message format", () => {
    expect(() => resolveOptions({ maxPlugins: 0 })).toThrow(
      'Expected `maxPlugins` to be at least 0 (exclusive), got `0` (number)',
    );
    expect(() => resolveOptions({ circuitBreaker: { failureThreshold: 1.5 } })).toThrow(
      'Expected `circuitBreaker.failureThreshold` to be an integer, got `1.5` (number)',
    );
    expect(() => resolveOptions({ pluginTimeout: 'soon' })).toThrow(
      /Expected `pluginTimeout` to be .*duration.*, got `"soon"` \(string\)/,
    );
  });

  it('says what a length bound counts (a short `node.secret` is too few characters)', () => {
    expect(() =>
      resolveOptions({ node: { id: 'a', address: 'http://127.0.0.1:1', secret: 'short' } }),
    ).toThrow('Expected `node.secret` to be at least 16 characters, got `"short"` (string)');
  });

  it('names unknown options, so that a typo never silently drops a limit', () => {
    const error = (() => {
      try {
        resolveOptions({ pluginTimout: '1s' } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({
      code: 'PGW_ERR_INVALID_ARGUMENT',
      message: 'Unknown option `pluginTimout` (did you mean "pluginTimeout"?)',
    });
  });
});
