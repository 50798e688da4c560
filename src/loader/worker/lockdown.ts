/**
 * What the harness takes away from a plugin's thread before the plugin's module loads.
 *
 * Node's permission model (set per thread by the host, see `worker-permissions.ts`) is the wall for
 * files, child processes, workers, addons, WASI and the inspector. This adds what it does not cover:
 * the process-wide levers a thread shares with its host (signals, `process.report`'s copy of the real
 * environment, V8 flags, the process priority), raw bindings, and the network. The dangerous
 * functions are replaced on the built-in modules' own export objects and the ESM views are synced,
 * so `require`, `import`, `createRequire` and `process.getBuiltinModule` all see the same refusals.
 * It is a guard, not a sandbox: see the threat model in the README for what it cannot stop.
 * @module
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as Dgram from 'node:dgram';
import type * as Net from 'node:net';
import { isGranted, type NetworkGrant } from '../../shared/network-allowlist.js';

const nodeRequire = createRequire(import.meta.url);

/** Node's own code for a refused operation, so that plugins see what the permission model throws. */
function denied(what: string): Error {
  return Object.assign(new Error(`Access to ${what} is refused to plugins by the gateway`), {
    code: 'ERR_ACCESS_DENIED',
  });
}

function refuser(what: string): (...args: unknown[]) => never {
  return function refused() {
    throw denied(what);
  };
}

type Exports = Record<string, unknown>;

function replace(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: false, configurable: false });
}

/** Every function an export object holds is refused (`only`: just those). */
function refuseModule(id: string, only?: readonly string[]): void {
  const exports = nodeRequire(id) as Exports;
  for (const key of only ?? Object.keys(exports)) {
    if (typeof exports[key] === 'function') replace(exports, key, refuser(`${id}.${key}()`));
  }
}

/** Modules whose every function reaches past the thread: processes, the inspector, cluster. */
const WHOLE = ['child_process', 'cluster', 'inspector', 'inspector/promises'] as const;
/**
 * Single functions of otherwise harmless modules (the harness itself uses the rest). `trace_events`
 * needs nothing: Node refuses to load it in a worker.
 */
const PARTS: Record<string, readonly string[]> = {
  worker_threads: ['Worker'],
  v8: ['setFlagsFromString', 'writeHeapSnapshot', 'setHeapSnapshotNearHeapLimit'],
  module: ['register', 'registerHooks'],
  wasi: ['WASI'],
  os: ['setPriority'],
};
/** `process` members that reach the host process or Node's internals. */
const PROCESS = [
  'binding',
  '_linkedBinding',
  'dlopen',
  'kill',
  // The binding \`kill\` calls: replacing \`kill\` alone left it one property away.
  '_kill',
  'abort',
  '_debugProcess',
  '_debugEnd',
  '_startProfilerIdleNotifier',
  '_stopProfilerIdleNotifier',
] as const;

/** Installs the lockdown: call it before the plugin's module is imported. */
export function lockdown(grants: readonly NetworkGrant[]): void {
  // Load them all first: `inspector/promises` wraps `inspector`'s functions as it loads.
  const whole = WHOLE.filter(hasBuiltin);
  for (const id of whole) nodeRequire(id);
  for (const id of whole) refuseModule(id);
  for (const [id, keys] of Object.entries(PARTS)) if (hasBuiltin(id)) refuseModule(id, keys);
  for (const key of PROCESS) {
    if (key in process) replace(process, key, refuser(`process.${key}()`));
  }
  // getReport() copies the process's real environment, whatever the thread's `process.env` is.
  replace(process, 'report', Object.freeze({ getReport: refuser('process.report') }));
  // Raw writes to the host's stderr, past the thread's own stream.
  replace(process, '_rawDebug', (...args: unknown[]) => console.error(...args));
  guardNetwork(grants);
  syncBuiltinESMExports();
}

function hasBuiltin(id: string): boolean {
  return (nodeRequire('node:module') as { builtinModules: string[] }).builtinModules.includes(id);
}

/**
 * Connections, lookups and datagrams only to `permissions.network` hosts; no listening socket, no
 * Unix socket. Every TCP client (net, tls, http, https, http2, fetch/undici, WebSocket) connects through
 * `net.Socket.prototype.connect`, so that is where hosts are checked.
 */
function guardNetwork(grants: readonly NetworkGrant[]): void {
  const net = nodeRequire('node:net') as typeof Net & {
    _normalizeArgs(args: unknown[]): [{ host?: string; port?: number | string; path?: string }];
  };
  const normalize = net._normalizeArgs;
  const check = (host: string, port: number | undefined) => {
    if (!isGranted(grants, host, port)) {
      throw denied(`${host}${port === undefined ? '' : `:${port}`} (not in permissions.network)`);
    }
  };
  const connect = net.Socket.prototype.connect;
  replace(net.Socket.prototype, 'connect', function (this: unknown, ...args: unknown[]) {
    // net.connect() hands over arguments it has already normalised, as an array.
    const [options] = Array.isArray(args[0])
      ? (args[0] as [Record<string, never>])
      : normalize(args);
    if (options.path) throw denied(`the Unix socket ${String(options.path)}`);
    check(options.host ?? 'localhost', options.port === undefined ? undefined : +options.port);
    return (connect as (...a: unknown[]) => unknown).apply(this, args);
  });
  replace(net.Server.prototype, 'listen', refuser('a listening socket'));

  const dgram = nodeRequire('node:dgram') as typeof Dgram;
  const {
    bind,
    send,
    connect: udpConnect,
  } = dgram.Socket.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  replace(dgram.Socket.prototype, 'bind', function (this: unknown, ...args: unknown[]) {
    const port = typeof args[0] === 'object' ? (args[0] as { port?: number })?.port : args[0];
    if (port !== undefined && port !== 0 && typeof port !== 'function') {
      throw denied('a bound UDP port');
    }
    return bind!.apply(this, args);
  });
  replace(dgram.Socket.prototype, 'connect', function (this: unknown, ...args: unknown[]) {
    check(typeof args[1] === 'string' ? args[1] : 'localhost', Number(args[0]));
    return udpConnect!.apply(this, args);
  });
  replace(dgram.Socket.prototype, 'send', function (this: unknown, ...args: unknown[]) {
    // send(msg, [offset, length,] [port, [address,]] [callback]); no port: a connected socket.
    const rest = args.slice(1).filter((a) => typeof a !== 'function');
    const numbers = rest.filter((a) => typeof a === 'number');
    const address = rest.find((a) => typeof a === 'string');
    const port = numbers.length === 1 || numbers.length === 3 ? numbers.at(-1) : undefined;
    if (port !== undefined || address !== undefined) check(address ?? 'localhost', port);
    return send!.apply(this, args);
  });

  guardLookups(nodeRequire('node:dns') as Exports, check);
  guardLookups(nodeRequire('node:dns/promises') as Exports, check);
}

/** Name lookups leak data to resolvers (and through them anywhere): only granted names. */
function guardLookups(dns: Exports, check: (host: string, port: undefined) => void): void {
  const wrap = (target: Exports, key: string) => {
    const original = target[key];
    if (typeof original !== 'function' || /Servers$|ResultOrder$|^cancel$/.test(key)) return;
    replace(target, key, function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === 'string') check(args[0], undefined);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    });
  };
  for (const key of Object.keys(dns)) {
    if (/^(lookup|resolve|reverse)/.test(key)) wrap(dns, key);
  }
  const resolver = (dns.Resolver as { prototype?: Exports } | undefined)?.prototype;
  if (resolver) {
    for (const key of Object.getOwnPropertyNames(resolver)) {
      if (/^(resolve|reverse)/.test(key)) wrap(resolver, key);
    }
  }
}
