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
import { constants as osConstants } from 'node:os';
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
  checkedRealpath();
  syncBuiltinESMExports();
}

/**
 * `fs.realpathSync` walks the path in JavaScript with `lstat`s the permission model does not check:
 * `/etc/passwd` answered a path and a missing file `ENOENT`, whether or not it was granted. The native
 * call (what `fs.realpath` and `fs.promises.realpath` use already) is checked: it replaces the walk.
 */
function checkedRealpath(): void {
  const fs = nodeRequire('node:fs') as { realpathSync: ((...a: unknown[]) => unknown) & Exports };
  const native = fs.realpathSync.native as (...a: unknown[]) => unknown;
  const realpathSync = (path: unknown, options?: unknown) =>
    native(
      path,
      typeof options === 'string' ? options : (options as { encoding?: string })?.encoding,
    );
  replace(fs, 'realpathSync', Object.assign(realpathSync, { native }));
}

function hasBuiltin(id: string): boolean {
  return (nodeRequire('node:module') as { builtinModules: string[] }).builtinModules.includes(id);
}

/**
 * Connections, lookups and datagrams only to `permissions.network` hosts; no listening socket, no
 * Unix socket. Two layers: `net.Socket.prototype.connect` refuses a name early with Node's own
 * error; the libuv handles (`guardHandles`) check the address Node really connects to, whatever
 * arguments, option arrays or custom `lookup` led there.
 */
function guardNetwork(grants: readonly NetworkGrant[]): void {
  const resolved = new ResolvedAddresses();
  guardHandles(grants, resolved);
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

  guardLookups(nodeRequire('node:dns') as Exports, check, resolved);
  guardLookups(nodeRequire('node:dns/promises') as Exports, check, resolved);
}

/**
 * Addresses that the system resolver gave for granted names (through `dns.lookup`, which `net` uses):
 * a connection to one is a connection to that name. Bounded: the oldest are forgotten first.
 */
class ResolvedAddresses {
  static readonly MAX = 1024;
  readonly #names = new Map<string, Set<string>>();

  add(name: string, address: unknown): void {
    if (typeof address !== 'string') return;
    const names = this.#names.get(address) ?? new Set();
    this.#names.delete(address);
    names.add(name);
    this.#names.set(address, names);
    if (this.#names.size > ResolvedAddresses.MAX) {
      this.#names.delete(this.#names.keys().next().value!);
    }
  }

  /** Records what a `dns.lookup` callback receives: `(err, address, family)` or `(err, [{ address }])`. */
  record(name: string, callback: unknown): unknown {
    if (typeof callback !== 'function') return callback;
    return (error: unknown, address: unknown, ...rest: unknown[]) => {
      if (!error) {
        for (const a of Array.isArray(address) ? address : [address]) {
          this.add(
            name,
            typeof a === 'object' && a !== null ? (a as { address: unknown }).address : a,
          );
        }
      }
      return (callback as (...a: unknown[]) => unknown)(error, address, ...rest);
    };
  }

  namesOf(address: string): Iterable<string> {
    return this.#names.get(address) ?? [];
  }
}

/** libuv's answer for a refused operation: the handle methods return an error number, never throw. */
const UV_EACCES = -osConstants.errno.EACCES;

/**
 * The lowest layer JavaScript reaches: the methods of the TCP, Pipe and UDP handles, which get the
 * resolved address Node really connects or sends to. No Unix or abstract socket, no listening, and
 * only addresses granted by `permissions.network` literally or resolved from a granted name.
 */
function guardHandles(grants: readonly NetworkGrant[], resolved: ResolvedAddresses): void {
  const net = nodeRequire('node:net') as typeof Net;
  const dgram = nodeRequire('node:dgram') as typeof Dgram;
  const allowed = (address: unknown, port: unknown): boolean => {
    if (typeof address !== 'string' || typeof port !== 'number') return false;
    if (isGranted(grants, address, port)) return true;
    for (const name of resolved.namesOf(address)) if (isGranted(grants, name, port)) return true;
    return false;
  };
  type Method = (this: unknown, ...args: unknown[]) => unknown;
  const guard = (proto: Record<string, Method>, key: string, ok: (args: unknown[]) => boolean) => {
    const original = proto[key];
    if (typeof original !== 'function') return;
    replace(proto, key, function (this: unknown, ...args: unknown[]) {
      return ok(args) ? original.apply(this, args) : UV_EACCES;
    });
  };
  // A handle of each kind, made without connecting (destroyed before the connection would start),
  // only to reach the prototype the binding gives every handle of that kind.
  const tcp = new net.Socket().connect({ port: 9, host: '0.0.0.0' });
  const pipe = new net.Socket().connect({ path: '\0' });
  const udp = dgram.createSocket('udp4');
  const handleOf = (handle: unknown) => Object.getPrototypeOf(handle) as Record<string, Method>;
  const TCP = handleOf((tcp as unknown as { _handle: object })._handle);
  const Pipe = handleOf((pipe as unknown as { _handle: object })._handle);
  // dgram keeps its handle under a symbol (its `_handle` getter is deprecated and warns).
  const state = Object.getOwnPropertySymbols(udp).find((k) => k.description === 'state symbol');
  const UDP = handleOf((udp as unknown as Record<symbol, { handle: object }>)[state!]!.handle);
  tcp.destroy();
  pipe.on('error', () => {}).destroy();
  udp.close();

  guard(TCP, 'connect', (a) => allowed(a[1], a[2]));
  guard(TCP, 'connect6', (a) => allowed(a[1], a[2]));
  guard(TCP, 'listen', () => false);
  for (const key of ['connect', 'bind', 'listen']) guard(Pipe, key, () => false);
  guard(UDP, 'connect', (a) => allowed(a[0], a[1]));
  guard(UDP, 'connect6', (a) => allowed(a[0], a[1]));
  // send(req, list, count, port, address, hasCallback); on a connected socket, without port and address.
  for (const key of ['send', 'send6']) guard(UDP, key, (a) => a.length < 6 || allowed(a[4], a[3]));
  for (const key of ['bind', 'bind6']) guard(UDP, key, (a) => a[1] === 0);
}

/** Name lookups leak data to resolvers (and through them anywhere): only granted names. */
function guardLookups(
  dns: Exports,
  check: (host: string, port: undefined) => void,
  resolved: ResolvedAddresses,
): void {
  const wrap = (target: Exports, key: string) => {
    const original = target[key];
    if (typeof original !== 'function' || /Servers$|ResultOrder$|^cancel$/.test(key)) return;
    replace(target, key, function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === 'string') check(args[0], undefined);
      if (key === 'lookup' && typeof args[0] === 'string') {
        const last = args.length - 1;
        args[last] = resolved.record(args[0], args[last]);
      }
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
