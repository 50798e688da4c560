// Issue 12's chaos suite, the scenarios one gateway can stage in this process: worker kills, thread
// hangs, a crash loop, a slow plugin, injected faults, a Redis restart under the rate-limit store.
// Goals asserted per scenario: no GET lost (each got an HTTP answer), no POST executed twice, the
// bystander plugin untouched, RSS back within RSS_TOLERANCE_MIB of its level before.
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisRateLimitStore } from '../../src/index.js';
import { statusOf } from '../helpers.js';
import { serviceAvailable } from '../services/common.js';
import { RedisServer } from '../services/redis.js';
import {
  CHAOS_SECONDS,
  every,
  printTable,
  RSS_TOLERANCE_MIB,
  runLocal,
  sleep,
  type ScenarioOutcome,
} from './scenario.js';

const timeout = 30_000 + CHAOS_SECONDS * 3000;

afterAll(() => {
  const table = printTable('chaos: local scenarios');
  if (process.env.CHAOS_REPORT) writeFileSync(`${process.env.CHAOS_REPORT}.local.md`, table);
});

/** The goals every scenario meets. */
function expectGoals(outcome: ScenarioOutcome): void {
  const { report, ledger } = outcome;
  expect(report.get.sent, 'the load ran').toBeGreaterThan(0);
  expect(report.get.lost, 'GETs without an HTTP answer').toBe(0);
  expect(report.post.lost, 'POSTs without an HTTP answer').toBe(0);
  const twice = [...ledger].filter(([, n]) => n > 1);
  expect(twice, 'POSTs executed more than once').toEqual([]);
  expect(report.bystander.sent).toBeGreaterThan(0);
  expect(report.bystander.failed, `bystander: ${JSON.stringify(report.bystander.statuses)}`).toBe(
    0,
  );
  expect(report.bystander.lost).toBe(0);
  expect(outcome.rssAfterMiB - outcome.rssBeforeMiB).toBeLessThanOrEqual(RSS_TOLERANCE_MIB);
}

/** A POST answered 201 was executed exactly once. */
function expectAnsweredPostsExecuted(outcome: ScenarioOutcome): void {
  const executed = [...outcome.ledger.values()].reduce((a, b) => a + b, 0);
  expect(executed).toBeGreaterThanOrEqual(outcome.report.post.statuses['201'] ?? 0);
}

describe('chaos (local): steady GET + POST load while faults are injected', () => {
  it('worker kills: every request answered; GETs retried', { timeout }, async () => {
    const outcome = await runLocal({
      name: 'worker kill',
      options: { restart: { maxCrashes: 1000, backoff: 10 } },
      inject: (run, signal) =>
        every(400, signal, () =>
          run.gateway.handle({ method: 'GET', path: '/chaos/exit', headers: {} }),
        ),
      heal: (run) => statusOf(run.gateway, 'chaos', 'active'),
    });
    expectGoals(outcome);
    expectAnsweredPostsExecuted(outcome);
    expect(outcome.finalStatus).toBe('active');
  });

  it('thread hangs (an infinite loop ended at its deadline)', { timeout }, async () => {
    const outcome = await runLocal({
      name: 'thread hang',
      inject: (run, signal) =>
        every(500, signal, () =>
          run.gateway.handle({ method: 'GET', path: '/chaos/spin', headers: {} }),
        ),
      heal: (run) => statusOf(run.gateway, 'chaos', 'active'),
    });
    expectGoals(outcome);
    expectAnsweredPostsExecuted(outcome);
    expect(outcome.finalStatus).toBe('active');
  });

  it(
    'a crash loop: the plugin ends failed, every request still answered',
    { timeout },
    async () => {
      const outcome = await runLocal({
        name: 'crash loop',
        // A thread takes ~1 s to boot on a busy machine: 2 crashes make the loop within a short run.
        options: { restart: { maxCrashes: 2, backoff: 10, maxBackoff: 50 } },
        inject: (run, signal) =>
          every(50, signal, () =>
            run.gateway.handle({ method: 'GET', path: '/chaos/exit', headers: {} }),
          ),
      });
      expectGoals(outcome);
      expect(outcome.finalStatus).toBe('failed');
      expect(outcome.report.get.statuses['503']).toBeGreaterThan(0);
    },
  );

  it(
    'a slow plugin: one request in five runs 800 ms past its 500 ms deadline (504)',
    { timeout },
    async () => {
      const outcome = await runLocal({
        name: 'slow plugin',
        // Timeouts count against the breaker: with its default it opens and answers 503 from then on.
        options: { circuitBreaker: { failureThreshold: 1_000_000 } },
        load: { get: (n) => `/chaos/slow/${n}?ms=${n % 5 === 0 ? 800 : 5}` },
        inject: () => Promise.resolve(),
      });
      expectGoals(outcome);
      expect(outcome.report.get.statuses['504']).toBeGreaterThan(0);
      expect(outcome.report.get.statuses['200']).toBeGreaterThan(0);
    },
  );

  it(
    'a slow plugin with the default breaker: it opens, the bystander never notices',
    { timeout },
    async () => {
      const outcome = await runLocal({
        name: 'slow plugin, breaker',
        load: { get: (n) => `/chaos/slow/${n}?ms=${n % 5 === 0 ? 800 : 5}` },
        inject: () => Promise.resolve(),
      });
      expectGoals(outcome);
    },
  );

  it('fault injection: 30 % delayed 100 ms, 20 % aborted 503', { timeout }, async () => {
    const outcome = await runLocal({
      name: 'fault injection',
      inject: (run) => {
        run.gateway.setFaults('chaos', {
          delay: { percentage: 30, duration: 100 },
          abort: { percentage: 20, status: 503 },
        });
        return Promise.resolve();
      },
      heal: (run) => run.gateway.setFaults('chaos', null),
    });
    expectGoals(outcome);
    expect(outcome.report.get.retried).toBeGreaterThan(0);
    // An aborted POST never reached the plugin: only 201s were executed.
    const executed = [...outcome.ledger.values()].reduce((a, b) => a + b, 0);
    expect(executed).toBe(outcome.report.post.statuses['201'] ?? 0);
  });

  const haveRedis = serviceAvailable('redis-server', 'apt-get install -y redis-server');
  it.runIf(haveRedis)('Redis restart under the rate-limit store', { timeout }, async () => {
    const redis = await RedisServer.start();
    const client = new Redis({
      port: redis.port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('ready', () => r()));
    const events: string[] = [];
    try {
      const outcome = await runLocal({
        name: 'redis restart',
        options: { rateLimiting: { store: new RedisRateLimitStore({ client, prefix: 'chaos:' }) } },
        inject: async (run, signal) => {
          run.gateway.on('ratelimit:fallback', () => events.push('fallback'));
          run.gateway.on('ratelimit:recovered', () => events.push('recovered'));
          await sleep((CHAOS_SECONDS * 1000) / 4);
          await redis.stop();
          await sleep((CHAOS_SECONDS * 1000) / 4);
          await redis.restart();
          while (!signal.aborted) await sleep(50);
        },
        heal: async () => {
          for (let i = 0; i < 100 && client.status !== 'ready'; i++) await sleep(50);
        },
      });
      expectGoals(outcome);
      expect(events[0]).toBe('fallback');
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });
});
