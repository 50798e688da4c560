/**
 * `@veza/plugin-gateway/testing`: a plugin under test in a real gateway (real threads or processes),
 * from vitest, `node:test` or any runner. Call its routes, publish events to it, read what it published
 * and logged, with feature flags, settings and a caller of the test's choosing.
 * @example
 * import { testPlugin } from '@veza/plugin-gateway/testing';
 * const plugin = await testPlugin('.', { flags: { new_algorithm: true }, user: 456 });
 * const res = await plugin.get('/recommendations');
 * await plugin.close();
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PluginGateway } from '../core/gateway.js';
import { InvalidArgumentError } from '../errors.js';
import { parseManifest, type Manifest } from '../manifest/manifest.js';
import { MANIFEST_FILE } from '../manifest/plugin-files.js';
import type { GatewayOptions, Identity } from '../core/options.js';
import type { PublishResult } from '../core/event-delivery.js';
import type { LoadOptions } from '../core/load-options.js';
import type { DomainEvent, GatewayRequest, PluginInfo } from '../shared/types.js';
import { EventRecorder } from './event-recorder.js';
import { TestLogger, type TestLogLine } from './test-logger.js';

export type { TestLogLine } from './test-logger.js';

/** Who calls: a user id, an identity with roles, or `null` for an anonymous caller. */
export type TestUser = number | string | Identity | null;

/**
 * Options of {@link createTestGateway}: the gateway's own (except that `warm` is `true` by default here:
 * a plugin under test boots when it is loaded), and the default caller.
 */
export interface TestGatewayOptions extends GatewayOptions {
  /** The caller of every request that names none. @default null (anonymous) */
  user?: TestUser;
}

/** Options of {@link testPlugin} and {@link TestGateway.load}. */
export interface TestPluginOptions {
  /**
   * Feature flags over the manifest's defaults (the host's `featureFlags.overrides`): with
   * {@link testPlugin}; a {@link TestGateway} takes them as `featureFlags` when it is made.
   */
  flags?: Record<string, boolean>;
  /** Settings the plugin reads as `ctx.config` (`load(dir, { config })`). */
  config?: Record<string, unknown>;
  /** The caller of the plugin's requests that name none. @default the gateway's `user` */
  user?: TestUser;
  /** Other options of `gateway.load()`. */
  load?: Omit<LoadOptions, 'config'>;
  /** Options of the gateway {@link testPlugin} makes (not used by {@link TestGateway.load}). */
  gateway?: TestGatewayOptions;
}

/** A request to a plugin under test; `method` and `path` come from the call. */
export interface TestRequest {
  /** Request headers, lower-case names. */
  headers?: Record<string, string>;
  /** Request body (an object is passed as it is: the plugin sees it parsed). */
  body?: unknown;
  /** This request's caller, over the plugin's default. */
  user?: TestUser;
}

/** What a route answered (or the gateway's own answer: 401, 404, 500, 503, 504…). */
export interface TestResponse {
  /** HTTP status. */
  statusCode: number;
  /** Response headers. */
  headers: Record<string, string | string[]>;
  /** Response body as the plugin returned it. */
  body: unknown;
}

/** A started gateway for tests; every plugin loaded through it is stopped by {@link TestGateway.close}. */
export class TestGateway {
  /** The gateway itself, for anything this helper does not cover. */
  readonly gateway: PluginGateway;
  /** Every log line of the gateway and its plugins, oldest first. */
  readonly logs: TestLogLine[];
  readonly #users = new WeakMap<object, TestUser>();
  readonly #defaultUser: TestUser;
  readonly #recorder: EventRecorder;

  /** Use {@link createTestGateway}. */
  constructor(options: TestGatewayOptions = {}) {
    const { user = null, ...gatewayOptions } = options;
    this.#defaultUser = user;
    const logger = new TestLogger();
    this.logs = logger.lines;
    this.#recorder = new EventRecorder();
    this.gateway = new PluginGateway({
      logger,
      // A plugin under test boots when it is loaded: load() proves initialize() and its routes.
      warm: true,
      ...gatewayOptions,
      authenticate: (req) => identityOf(this.#users.has(req) ? this.#users.get(req)! : user),
    });
  }

  /** Starts the gateway (done by {@link createTestGateway}). */
  async start(): Promise<void> {
    await this.gateway.start();
  }

  /**
   * Loads the plugin in `dir` and waits until it serves.
   * @throws {PluginLoadError} and its kinds (`PluginCodeError` at the line) when it does not load.
   */
  async load(dir: string, options: TestPluginOptions = {}): Promise<PluginUnderTest> {
    const { flags, config, load } = options;
    const file = path.join(dir, MANIFEST_FILE);
    let manifest: Manifest | undefined;
    try {
      manifest = parseManifest(await readFile(file, 'utf8'), { file });
    } catch {
      // load() reports what is wrong with the folder, at its line.
    }
    if (flags) {
      const overrides = manifest && this.gateway.options.featureFlags.overrides[manifest.name];
      const applied = Object.entries(flags).every(([flag, on]) => overrides?.[flag] === on);
      if (!applied) {
        throw new InvalidArgumentError(
          'flags are read when the gateway is made: use testPlugin(dir, { flags }), or createTestGateway({ featureFlags: { overrides: { [name]: flags } } })',
        );
      }
    }
    if (manifest && manifest.permissions.events.publish.length > 0) {
      await this.#recorder.ensure(this.gateway);
    }
    const info = await this.gateway.load(dir, { ...load, config: config ?? {} });
    return new PluginUnderTest(
      this,
      info,
      options.user !== undefined ? options.user : this.#defaultUser,
    );
  }

  /** Sends a request as `user`; never throws for a plugin's fault. */
  async request(req: GatewayRequest, user: TestUser | undefined): Promise<TestResponse> {
    const caller = user !== undefined ? user : this.#defaultUser;
    this.#users.set(req, caller);
    // The gateway asks authenticate() only for endpoints that need a caller; the others see userId.
    if (caller !== null) req.userId = identityOf(caller)!.userId;
    const res = await this.gateway.handle(req);
    return { statusCode: res.statusCode, headers: res.headers ?? {}, body: res.body };
  }

  /** Publishes a domain event to the plugins that subscribe to it. */
  publish(event: DomainEvent): Promise<PublishResult> {
    return this.gateway.publish(event);
  }

  /** Events plugins published (what a subscriber would receive), oldest first; `type` filters. */
  published(type?: string): Promise<DomainEvent[]> {
    return this.#recorder.events(this.gateway, type);
  }

  /** Stops the gateway and every plugin. */
  async close(): Promise<void> {
    await this.gateway.stop();
    await this.#recorder.dispose();
  }

  /** `await using gateway = await createTestGateway()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One plugin loaded in a {@link TestGateway}. */
export class PluginUnderTest {
  /** Use {@link testPlugin} or {@link TestGateway.load}. */
  constructor(
    /** The gateway it runs in. */
    readonly host: TestGateway,
    /** Its info when it was loaded. */
    readonly info: PluginInfo,
    /** The caller of its requests that name none. */
    readonly user: TestUser,
  ) {}

  /** The plugin's name. */
  get name(): string {
    return this.info.name;
  }

  /** Log lines of this plugin (its `ctx.log` and the gateway's lines about it), oldest first. */
  get logs(): TestLogLine[] {
    return this.host.logs.filter((line) => line.plugin_id === this.info.name);
  }

  /** Sends `method path` (with a query string if any) to the gateway, as the plugin's caller. */
  request(method: string, path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.host.request(
      { method, path, headers: init.headers ?? {}, body: init.body },
      init.user !== undefined ? init.user : this.user,
    );
  }

  /** `GET path`. */
  get(path: string, init?: TestRequest): Promise<TestResponse> {
    return this.request('GET', path, init);
  }

  /** `POST path` with `body`. */
  post(path: string, body?: unknown, init?: TestRequest): Promise<TestResponse> {
    return this.request('POST', path, { ...init, body });
  }

  /** `PUT path` with `body`. */
  put(path: string, body?: unknown, init?: TestRequest): Promise<TestResponse> {
    return this.request('PUT', path, { ...init, body });
  }

  /** `DELETE path`. */
  delete(path: string, init?: TestRequest): Promise<TestResponse> {
    return this.request('DELETE', path, init);
  }

  /** Publishes `type` with `payload` (to this plugin and any other subscriber loaded). */
  publish(
    type: string,
    payload?: unknown,
    init: Omit<DomainEvent, 'type' | 'payload'> = {},
  ): Promise<PublishResult> {
    return this.host.publish({ ...init, type, payload } as DomainEvent);
  }

  /**
   * The first event of `type` this plugin published, waiting for it up to `timeoutMs` (events reach
   * subscribers after the route that published them has answered).
   * @throws {Error} when none came in time.
   */
  async waitForPublished(type: string, timeoutMs = 5000): Promise<DomainEvent> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [first] = await this.published(type);
      if (first) return first;
      if (Date.now() > until) {
        throw new Error(`plugin "${this.info.name}" published no "${type}" within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Events this plugin published with `ctx.publish()`, oldest first; `type` filters. */
  async published(type?: string): Promise<DomainEvent[]> {
    return (await this.host.published(type)).filter((e) => e.source === this.info.name);
  }

  /** The plugin's current info: status, health, … */
  status(): PluginInfo | undefined {
    return this.host.gateway.get(this.info.name);
  }

  /** Stops the gateway it runs in (and, with it, the plugin). */
  close(): Promise<void> {
    return this.host.close();
  }

  /** `await using plugin = await testPlugin(dir)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A started gateway for tests, logging into memory; stop it with `close()`. */
export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const gateway = new TestGateway(options);
  await gateway.start();
  return gateway;
}

/**
 * The plugin in `dir` in a gateway of its own, started and serving.
 * @throws {PluginLoadError} and its kinds (`PluginCodeError` at the line) when it does not load.
 */
export async function testPlugin(
  dir: string,
  options: TestPluginOptions = {},
): Promise<PluginUnderTest> {
  const gatewayOptions = { ...options.gateway };
  if (options.flags) {
    const file = path.join(dir, MANIFEST_FILE);
    const { name } = parseManifest(await readFile(file, 'utf8'), { file });
    const overrides = gatewayOptions.featureFlags?.overrides ?? {};
    gatewayOptions.featureFlags = {
      overrides: { ...overrides, [name]: { ...overrides[name], ...options.flags } },
    };
  }
  const gateway = await createTestGateway(gatewayOptions);
  try {
    return await gateway.load(dir, options);
  } catch (error) {
    await gateway.close();
    throw error;
  }
}

function identityOf(user: TestUser): Identity | null {
  if (user === null) return null;
  return typeof user === 'object' ? user : { userId: user };
}
