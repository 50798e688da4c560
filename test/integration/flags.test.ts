import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import {
  rolloutBucket,
  type FlagChangedEvent,
  type PluginGateway,
  type PluginResponse,
} from '../../src/index.js';
import { gatewayWith, get, memoryLogger } from '../helpers.js';

/** Feature flags that live: `setFlag()` at run time, rollout rules, an OpenFeature provider. */
let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

/** The echo fixtures answer their name upper-cased when `ctx.flags.shout` is on. */
const shouted = async (g: PluginGateway, userId?: string | number): Promise<boolean> => {
  const res: PluginResponse = await g.handle({
    method: 'POST',
    path: '/echo/ada',
    headers: {},
    body: {},
    ...(userId === undefined ? {} : { userId }),
  });
  expect(res.statusCode).toBe(200);
  return (res.body as { name: string }).name === 'ADA';
};

describe.each([
  ['worker threads', 'echo'],
  ['a child process', 'proc-echo'],
])('setFlag() on a plugin in %s', (_, plugin) => {
  it('changes the next request’s ctx.flags without a restart, both ways', async () => {
    gateway = await gatewayWith([plugin], { sandbox: { bwrap: false } });
    expect(await shouted(gateway)).toBe(false);
    const threads = gateway.metrics(plugin).threads;
    const info = await gateway.setFlag(plugin, 'shout', true);
    expect(info.flags).toEqual({ shout: true });
    expect(await shouted(gateway)).toBe(true);
    await gateway.setFlag(plugin, 'shout', false);
    expect(await shouted(gateway)).toBe(false);
    expect(gateway.get(plugin)?.flags).toEqual({ shout: false });
    // The same threads or process served throughout: no restart.
    expect(gateway.metrics(plugin).threads).toBe(threads);
    expect(gateway.metrics(plugin).crashes).toBe(0);
  });

  it('a thread or process started after the change sees it from initialize() on', async () => {
    const name = plugin === 'echo' ? 'flag-init' : 'proc-flag-init';
    gateway = await gatewayWith([name], { sandbox: { bwrap: false }, idleTimeout: 50 });
    const path = `/${name}`;
    expect((await get(gateway, path)).body).toEqual({
      atInit: { verbose: false },
      now: { verbose: false },
    });
    await gateway.setFlag(name, 'verbose', true);
    // Idle past idleTimeout: the thread or process ends; the next request starts a new one.
    for (let i = 0; i < 100 && gateway.metrics(name).threads > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(gateway.metrics(name).threads).toBe(0);
    expect((await get(gateway, path)).body).toEqual({
      atInit: { verbose: true },
      now: { verbose: true },
    });
  });

  it('reaches every thread or process, including those started after the change', async () => {
    gateway = await gatewayWith([plugin], { sandbox: { bwrap: false }, idleTimeout: 50 });
    await gateway.setFlag(plugin, 'shout', true);
    // Concurrent requests spread over the live threads; then the idle ones end and new ones start.
    const first = await Promise.all(Array.from({ length: 16 }, () => shouted(gateway!)));
    expect(first.every(Boolean)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await shouted(gateway)).toBe(true);
  });
});

describe('setFlag()', () => {
  it('refuses a flag the manifest does not declare, and an unknown plugin', async () => {
    gateway = await gatewayWith(['echo']);
    await expect(gateway.setFlag('echo', 'whisper', true)).rejects.toMatchObject({
      code: 'PGW_ERR_FLAG_NOT_DECLARED',
      plugin: 'echo',
    });
    await expect(gateway.setFlag('nope', 'shout', true)).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_NOT_FOUND',
    });
    await expect(
      gateway.setFlag('echo', 'shout', { percentage: 150 } as never),
    ).rejects.toMatchObject({ code: 'PGW_ERR_INVALID_ARGUMENT' });
    await expect(gateway.setFlag('echo', 'shout', 'yes' as never)).rejects.toMatchObject({
      code: 'PGW_ERR_INVALID_ARGUMENT',
    });
    expect(gateway.get('echo')?.flags).toEqual({ shout: false });
  });

  it('emits flag:changed and logs one line', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['echo'], { logger });
    const events: FlagChangedEvent[] = [];
    gateway.on('flag:changed', (e) => events.push(e));
    await gateway.setFlag('echo', 'shout', true);
    await gateway.setFlag('echo', 'shout', { percentage: 10, users: ['ada'] });
    expect(events).toEqual([
      { plugin: 'echo', flag: 'shout', value: true, previous: false },
      {
        plugin: 'echo',
        flag: 'shout',
        value: false,
        previous: true,
        rule: { value: false, percentage: 10, users: ['ada'] },
      },
    ]);
    const lines = logger.lines.filter((l) => l.flag === 'shout');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', plugin_id: 'echo', value: true });
    expect(gateway.get('echo')?.flagRules).toEqual({
      shout: { value: false, percentage: 10, users: ['ada'] },
    });
  });

  it('rolls out to a percentage of users within ±5% over 10,000 users, the same answer each time', async () => {
    gateway = await gatewayWith(['echo']);
    await gateway.setFlag('echo', 'shout', { percentage: 30 });
    const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    let on = 0;
    for (let i = 0; i < users.length; i += 200) {
      const batch = users.slice(i, i + 200);
      const answers = await Promise.all(batch.map((u) => shouted(gateway!, u)));
      answers.forEach((answer, k) => {
        // Each answer is the user's bucket: deterministic, and known to the host as well.
        expect(answer).toBe(rolloutBucket('echo', 'shout', batch[k]!) < 3000);
        if (answer) on++;
      });
    }
    expect(on / users.length).toBeGreaterThan(0.25);
    expect(on / users.length).toBeLessThan(0.35);
    // Anonymous requests get the value outside the rollout.
    expect(await shouted(gateway)).toBe(false);
  });

  it('turns a flag on for listed users, numeric ids included', async () => {
    gateway = await gatewayWith(['echo']);
    await gateway.setFlag('echo', 'shout', { users: ['ada', 42] });
    expect(await shouted(gateway, 'ada')).toBe(true);
    expect(await shouted(gateway, 42)).toBe(true);
    expect(await shouted(gateway, 'bob')).toBe(false);
    // Back to a plain value: the rule is gone.
    await gateway.setFlag('echo', 'shout', false);
    expect(await shouted(gateway, 'ada')).toBe(false);
    expect(gateway.get('echo')?.flagRules).toBeUndefined();
  });
});

describe('an OpenFeature provider', () => {
  const flags = {
    'echo.shout': {
      variants: { on: true, off: false },
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (ctx: { targetingKey?: string; plugin?: unknown }) =>
        ctx.targetingKey === 'ada' && ctx.plugin === 'echo' ? 'on' : 'off',
    },
  };

  it('targets a user through an OpenFeature client', async () => {
    await OpenFeature.setProviderAndWait('pgw-test', new InMemoryProvider(flags));
    gateway = await gatewayWith(['echo'], {
      featureFlags: { openFeature: OpenFeature.getClient('pgw-test') },
    });
    expect(await shouted(gateway, 'ada')).toBe(true);
    expect(await shouted(gateway, 'bob')).toBe(false);
    expect(await shouted(gateway)).toBe(false);
    await OpenFeature.clearProviders();
  });

  it('takes a provider directly; a flag it does not know keeps the gateway’s value', async () => {
    gateway = await gatewayWith(['echo'], {
      featureFlags: { openFeature: new InMemoryProvider({}) },
    });
    expect(await shouted(gateway, 'ada')).toBe(false);
    await gateway.setFlag('echo', 'shout', true);
    expect(await shouted(gateway, 'ada')).toBe(true);
  });

  it('a provider that never answers or throws does not hold the request: the gateway’s values then', async () => {
    const hung = { getBooleanValue: () => new Promise<boolean>(() => {}) };
    gateway = await gatewayWith(['echo'], { featureFlags: { openFeature: hung } });
    await gateway.setFlag('echo', 'shout', true);
    expect(await shouted(gateway, 'ada')).toBe(true);
    await gateway.stop();
    const throwing = {
      resolveBooleanEvaluation: () => {
        throw new Error('provider down');
      },
    };
    gateway = await gatewayWith(['echo'], { featureFlags: { openFeature: throwing } });
    expect(await shouted(gateway, 'ada')).toBe(false);
  });

  it('refuses an option that is neither a client nor a provider', async () => {
    await expect(
      gatewayWith([], { featureFlags: { openFeature: {} as never } }),
    ).rejects.toMatchObject({
      code: 'PGW_ERR_INVALID_ARGUMENT',
    });
  });
});
