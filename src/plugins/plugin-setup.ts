/**
 * Turning a plugin folder into a `ManagedPlugin` with its runtime: the runtime it asks for, its feature
 * flags, and a word in the log for manifest fields this version accepts but does not enforce yet.
 * @module
 */
import { fieldLocation } from '../manifest/manifest.js';
import {
  LiveUnsupportedError,
  MaxPluginsError,
  PluginExistsError,
  SandboxUnavailableError,
  UntrustedRuntimeError,
} from '../errors.js';
import type { PluginRuntime, RuntimeHooks, RuntimeSpec } from '../loader/runtime.js';
import { WorkerRuntime } from '../loader/worker/worker-runtime.js';
import { ProcessRuntime } from '../loader/process/process-runtime.js';
import { findBwrap, kernelLimitsFor } from '../loader/process/process-launch.js';
import { linkLeadingOut } from '../loader/process/folder-links.js';
import { createWasmRuntime, prepareModule } from '../loader/wasm/wasm-runtime.js';
import type { BreakerSettings, BreakerState } from '../mesh/circuit-breaker.js';
import { PluginLogSink, type PluginLogLine } from './plugin-logs.js';
import { PluginFlags, type FlagSource } from './plugin-flags.js';
import { ManagedPlugin } from './managed-plugin.js';
import type { Manifest } from '../manifest/manifest.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { CrashPolicyOptions } from './crash-policy.js';
import type { PluginFiles } from '../manifest/plugin-files.js';
import { clampResources } from '../manifest/resource-ceilings.js';
import type { HostLimits } from '../shared/host-limits.js';
import { capWasmTables } from '../loader/wasm/table-ceiling.js';

/** The gateway's settings that shape a plugin's runtime and policies (its resolved options). */
export interface PluginSettings {
  featureFlags: {
    overrides: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
    openFeature?: FlagSource | undefined;
  };
  idleTimeout: number;
  threadConcurrency: number;
  maxInFlight: number;
  timeoutGrace: number;
  restart: CrashPolicyOptions;
  maxResponseBytes: number;
  /** The ceilings the host sets per plugin instance (the `limits` option). */
  limits: Readonly<HostLimits>;
  sandbox: { bwrap: boolean; requireBwrap: boolean; untrusted: 'process' | 'refuse' };
  /** Whether plugins boot at `start()` (the gateway's `warm`, lazy by default) unless their manifest or `load()` says otherwise. */
  warm: boolean;
}

/** A plugin's own policies: `load()` options laid over the gateway's. */
export interface PluginPolicies {
  config: Record<string, unknown>;
  instances: number;
  circuitBreaker: BreakerSettings;
  bulkhead: { maxConcurrent: number; maxQueued: number };
  /** Whether the host trusts the plugin's code (an untrusted plugin never runs in worker threads). */
  trusted: boolean;
  /** Boots at `start()` rather than on its first request; `undefined`: the manifest's, else the gateway's. */
  warm: boolean | undefined;
}

/** What `createPlugin` needs from the gateway. */
export interface PluginSetup {
  options: Readonly<PluginSettings>;
  log: GatewayLogger;
  instanceId: string;
  /** `load()` options, validated, with the gateway's policies filled in. */
  load: PluginPolicies;
  /** The folder's hash recorded at load, checked again before each thread or process runs plugin code. */
  contentHash?: string;
  /** The runtime's crash, publish, call, violation and abandon hooks for the plugin being made (its logs and output go to the gateway's logger). */
  hooks: (plugin: ManagedPlugin) => Omit<RuntimeHooks, 'onLog' | 'onOutput'>;
  /** A log line the plugin wrote, admitted by its rate limits (the gateway's `plugin:log` event). */
  onLogLine?: (line: PluginLogLine) => void;
  /** The plugin instance's circuit breaker changed state (also logged). */
  onBreaker: (
    state: BreakerState,
    event: { plugin: string; instance: string; endpoint?: string },
  ) => void;
}

/**
 * Makes the plugin and its runtime (no thread starts until it is booted).
 * @throws {UntrustedRuntimeError} for an untrusted `worker` plugin when `sandbox.untrusted` is `'refuse'`.
 * @throws {SandboxUnavailableError} for a `process` plugin without bubblewrap when it is required, or
 * when its folder holds a symbolic link leading out of it.
 * @throws {WasmModuleError} for a wasm plugin whose module is not one, or whose memory cannot be capped.
 * @throws {WasmImportRefusedError} for a wasm plugin that imports what its manifest does not grant.
 */
export function createPlugin(loaded: PluginFiles, setup: PluginSetup): ManagedPlugin {
  const { limits } = setup.options;
  capWasmTables(limits.tableElements);
  const files = setup.load.trusted ? loaded : withCeilings(loaded, setup);
  const { manifest } = files;
  const runtime = runtimeFor(manifest, setup);
  assertLiveServable(files, runtime);
  const wasm = runtime === 'wasm' ? prepareModule(files, limits) : undefined;
  const bwrap = runtime === 'process' ? processSandbox(files, setup) : undefined;
  const pending = notYetEnforced(manifest, runtime, bwrap !== undefined);
  if (pending.length > 0) {
    setup.log.warn(
      { plugin_id: manifest.name, fields: pending },
      `plugin.yaml fields this version parses but does not enforce yet: ${pending.join(', ')}`,
    );
  }
  const { options } = setup;
  const sink = new PluginLogSink(
    setup.log,
    manifest.name,
    manifest.version,
    limits,
    setup.onLogLine,
  );
  const flags = new PluginFlags(
    manifest.name,
    manifest,
    options.featureFlags.overrides[manifest.name] ?? {},
    setup.log,
    options.featureFlags.openFeature,
  );
  const spec: RuntimeSpec = {
    manifest,
    mainPath: files.mainPath,
    mainUrl: files.mainUrl,
    pluginDir: files.dir,
    ...(files.command && { command: files.command }),
    instanceId: setup.instanceId,
    flags: flags.values,
    settings: setup.load.config,
    idleTimeoutMs: options.idleTimeout,
    threadConcurrency: options.threadConcurrency,
    maxInFlight: options.maxInFlight,
    timeoutGraceMs: options.timeoutGrace,
    maxResponseBytes: options.maxResponseBytes,
    limits,
    ...(setup.contentHash === undefined ? {} : { contentHash: setup.contentHash }),
  };
  const policies = {
    restart: options.restart,
    circuitBreaker: setup.load.circuitBreaker,
    bulkhead: setup.load.bulkhead,
    threadConcurrency: options.threadConcurrency,
    instances: setup.load.instances,
    warm: setup.load.warm ?? manifest.warm ?? options.warm,
  };
  // What outlives one runtime of an instance (a restart, a lazy plugin's sleep), kept per instance.
  const kept = new Map<string, unknown>();
  const plugin = new ManagedPlugin(
    setup.instanceId,
    manifest,
    files.dir,
    policies,
    (self, instanceId): PluginRuntime => {
      const keep = <T>(what: string, make: () => T): T => {
        const key = `${instanceId} ${what}`;
        if (!kept.has(key)) kept.set(key, make());
        return kept.get(key) as T;
      };
      const runtimeSpec: RuntimeSpec = { ...spec, instanceId, keep };
      const hooks: RuntimeHooks = {
        ...setup.hooks(self),
        onLog: (...line) => sink.write(...line),
        onOutput: (stream, line) => sink.output(stream, line),
      };
      if (wasm) return createWasmRuntime(runtimeSpec, hooks, wasm);
      return runtime === 'process'
        ? new ProcessRuntime(runtimeSpec, hooks, bwrap)
        : new WorkerRuntime(runtimeSpec, hooks);
    },
    {
      runtime,
      trusted: setup.load.trusted,
      ...(runtime === 'process'
        ? {
            sandbox: bwrap ? 'bwrap' : 'permission-model',
            kernelLimits: kernelLimitsFor(bwrap !== undefined, files.command !== undefined),
          }
        : {}),
    },
    flags,
  );
  // The parser and the resolver load with the first check, not with the gateway (import cost).
  plugin.checkCode = async () => {
    const { checkPluginCode } = await import('../loader/code-check/code-check.js');
    const warnings = await checkPluginCode({ ...files, wasm: wasm?.bytes });
    for (const { message } of warnings) setup.log.warn({ plugin_id: plugin.name }, message);
  };
  for (const instance of plugin.instances) {
    for (const [breaker, endpoint] of instance.breakers()) {
      const event = { plugin: plugin.name, instance: instance.id, ...(endpoint && { endpoint }) };
      breaker.onStateChange((state) => {
        setup.log.warn(
          { plugin_id: plugin.name, instance: instance.id, endpoint, breaker: state },
          `circuit ${state}`,
        );
        setup.onBreaker(state, event);
      });
    }
  }
  return plugin;
}

/** An untrusted plugin's files with its manifest's `resources` clamped to the gateway's `limits` (said in a warning). */
function withCeilings(files: PluginFiles, setup: PluginSetup): PluginFiles {
  const { manifest, lowered } = clampResources(files.manifest, setup.options.limits);
  if (manifest === files.manifest) return files;
  if (lowered.length > 0) {
    setup.log.warn(
      { plugin_id: manifest.name, lowered },
      `untrusted plugin "${manifest.name}": resources clamped to the gateway's limits (${lowered.join(', ')})`,
    );
  }
  return { ...files, manifest };
}

/**
 * The runtime the plugin runs in: the one its manifest asks for, except that an untrusted plugin never
 * gets worker threads (no sandbox) — it runs as a process, or is refused, as `sandbox.untrusted` says.
 * @throws {UntrustedRuntimeError} when it is refused.
 */
function runtimeFor(manifest: Manifest, setup: PluginSetup): Manifest['runtime']['type'] {
  const asked = manifest.runtime.type;
  if (setup.load.trusted || asked !== 'worker') return asked;
  if (setup.options.sandbox.untrusted === 'refuse') {
    throw new UntrustedRuntimeError(
      `plugin "${manifest.name}" is untrusted and asks for runtime.type: worker, which is no sandbox; sandbox.untrusted is 'refuse' (use runtime.type: process or wasm)`,
      { plugin: manifest.name },
    );
  }
  setup.log.warn(
    { plugin_id: manifest.name, runtime: 'process' },
    'untrusted plugin: runs in the process runtime instead of worker threads',
  );
  return 'process';
}

/**
 * WebSockets live in a worker thread of the plugin's own (`loader/worker/live-thread.ts`) or on a
 * process's channel (the Node harness, the Go and Rust SDKs: a native program that does not say it
 * serves them in its `hello` fails its boot), streams there too; what a runtime cannot serve is
 * refused now rather than hang later.
 * @throws {LiveUnsupportedError} naming the first such endpoint's `websocket` or `stream` field.
 */
function assertLiveServable(files: PluginFiles, runtime: Manifest['runtime']['type']): void {
  if (runtime === 'worker') return;
  // Streams go through a process's channel, and through wasm (one thread per stream; its request
  // bodies come whole); WebSockets through a process's channel, not wasm.
  const wasm = runtime === 'wasm';
  const i = files.manifest.endpoints.findIndex(
    (e) =>
      (e.websocket !== undefined && wasm) ||
      (e.stream !== undefined && (wasm ? e.stream.request_body : runtime !== 'process')),
  );
  if (i < 0) return;
  const { name } = files.manifest;
  if (wasm && files.manifest.endpoints[i]!.websocket === undefined) {
    const at = fieldLocation(files.manifestText, files.manifestPath, ['endpoints', i, 'stream']);
    throw new LiveUnsupportedError(
      `${at}: plugin "${name}" declares stream.request_body, which a wasm plugin does not read as a stream (its call is synchronous); drop request_body (the body then comes whole, up to the gateway's body limit)`,
      { plugin: name },
    );
  }
  const field = files.manifest.endpoints[i]!.websocket !== undefined ? 'websocket' : 'stream';
  const where = fieldLocation(files.manifestText, files.manifestPath, ['endpoints', i, field]);
  throw new LiveUnsupportedError(
    `${where}: plugin "${name}" declares a live endpoint (${field}), which only the worker and process runtimes serve (runtime.type is ${runtime}); drop ${field}, or serve it from the worker or process runtime`,
    { plugin: name },
  );
}

/**
 * The `bwrap` binary a `process` plugin runs in, or undefined for Node's permission model alone
 * (said in a warning).
 * @throws {SandboxUnavailableError} when the gateway requires bubblewrap and it is not there, or when
 * it is not and the plugin's folder holds a symbolic link leading out of it.
 */
function processSandbox(files: PluginFiles, setup: PluginSetup): string | undefined {
  const { sandbox } = setup.options;
  const bwrap = sandbox.bwrap ? findBwrap() : undefined;
  if (bwrap) {
    if (files.command) assertNativeLimits(files, setup);
    return bwrap;
  }
  const why = sandbox.bwrap
    ? 'bwrap (bubblewrap) is not installed on this host'
    : 'the gateway option sandbox.bwrap is false';
  if (files.command) {
    // Node's permission model, the fallback wall, confines Node alone: a native program would have none.
    throw new SandboxUnavailableError(
      `plugin "${files.manifest.name}" (runtime.command: a native program) may not run: ${why}, and a native plugin runs only inside bubblewrap`,
      { plugin: files.manifest.name },
    );
  }
  if (sandbox.requireBwrap) {
    throw new SandboxUnavailableError(
      `plugin "${files.manifest.name}" (runtime.type: process) may not run: ${why} and sandbox.requireBwrap is set`,
      { plugin: files.manifest.name },
    );
  }
  const link = linkLeadingOut(files.dir);
  if (link !== undefined) {
    throw new SandboxUnavailableError(
      `plugin "${files.manifest.name}" (runtime.type: process) may not run: its folder holds a symbolic link leading out of it (${link}), which Node's permission model would follow, and ${why}`,
      { plugin: files.manifest.name },
    );
  }
  setup.log.warn(
    { plugin_id: files.manifest.name, sandbox: 'permission-model' },
    `plugin process runs under Node's permission model alone (no namespaces, network guarded in JavaScript only): ${why}`,
  );
  return undefined;
}

/**
 * A native program may start processes and allocate outside any heap cap: only the kernel's memory and
 * process limits (cgroups) bound it. Without them an untrusted native plugin is refused; a trusted one
 * runs with a warning (the RSS watch ends it past its memory, late).
 * @throws {SandboxUnavailableError} for an untrusted native plugin on a host without those limits.
 */
function assertNativeLimits(files: PluginFiles, setup: PluginSetup): void {
  const kernel = kernelLimitsFor(true, true);
  if (kernel.memory && kernel.pids) return;
  const why = `this host does not let the gateway set cgroup memory and process limits${kernel.reason ? ` (${kernel.reason})` : ''}`;
  if (!setup.load.trusted) {
    throw new SandboxUnavailableError(
      `untrusted plugin "${files.manifest.name}" (runtime.command: a native program) may not run: ${why}; run the gateway as root or in a delegated cgroup`,
      { plugin: files.manifest.name },
    );
  }
  setup.log.warn(
    { plugin_id: files.manifest.name, sandbox: 'bwrap' },
    `native plugin runs without kernel memory and process limits: ${why}`,
  );
}

/**
 * @throws {PluginExistsError} when a plugin of that name is loaded.
 * @throws {MaxPluginsError} when `maxPlugins` are loaded.
 */
export function assertLoadable(
  manifest: Manifest,
  loaded: ReadonlyMap<string, ManagedPlugin>,
  maxPlugins: number,
): void {
  const other = loaded.get(manifest.name);
  if (other) {
    throw new PluginExistsError(`plugin "${manifest.name}" is already loaded (from ${other.dir})`, {
      plugin: manifest.name,
    });
  }
  if (loaded.size >= maxPlugins) {
    throw new MaxPluginsError(
      `cannot load "${manifest.name}": maxPlugins (${maxPlugins}) reached`,
      {
        plugin: manifest.name,
      },
    );
  }
}

/**
 * Manifest fields that are valid but that the mesh, discovery or sandbox of a later version enforces.
 * (`resources.network` is enforced on what the host fetches for the plugin, its only network.)
 */
export function notYetEnforced(
  m: Manifest,
  runtime: Manifest['runtime']['type'] = m.runtime.type,
  bwrap = false,
): string[] {
  const fields: string[] = [];
  // A wasm plugin's key/value store, and a process plugin's tmpfs under bubblewrap, take its size.
  const diskCapped = runtime === 'wasm' || (runtime === 'process' && bwrap);
  if (m.resources.disk !== undefined && !diskCapped) fields.push('resources.disk');
  return fields;
}
