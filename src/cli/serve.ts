/**
 * `veza plugin dev` and `veza gateway serve`: a gateway behind the `node:http` listener. `dev` serves one
 * plugin folder and swaps its new code in on save (the last version that loaded serves meanwhile);
 * `serve` reads a `gateway.yaml` whose `gateway:` section is checked by the gateway's own options
 * schema, every problem at its line.
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { createRequestListener } from '../adapters/node.js';
import { writeError } from '../adapters/write-response.js';
import { ErrorCodes, isSwapFailedError } from '../errors.js';
import { PluginGateway } from '../core/gateway.js';
import { optionsSchema, type GatewayOptions } from '../core/options.js';
import { fieldLocation } from '../manifest/manifest.js';
import type { GatewayLogger } from '../shared/logger.js';
import { parseDuration } from '../shared/duration.js';
import { openRegistry, registryProblems, type RegistrySecurity } from './registry-config.js';
import { resolveReferences } from './config-references.js';
import { unknownKeyMessage } from './did-you-mean.js';
import { createProbeServer, type ProbeState } from './probes.js';
import { CliError, Exit, colour, warn } from './output.js';
import { watchFolder } from './watch-folder.js';

/** Log lines for a person at a terminal: time, level, plugin, message, then the fields. */
export function prettyLogger(minLevel: 'debug' | 'info' | 'warn' = 'info'): GatewayLogger {
  const order = ['debug', 'info', 'warn', 'error'];
  const tint: Record<string, (t: string) => string> = {
    debug: colour.dim,
    info: colour.green,
    warn: colour.yellow,
    error: colour.red,
  };
  const at = (level: string) => (obj: object, msg?: string) => {
    if (order.indexOf(level) < order.indexOf(minLevel)) return;
    const { plugin_id, ...fields } = obj as Record<string, unknown>;
    const time = new Date().toISOString().slice(11, 23);
    const rest = Object.keys(fields).length > 0 ? ` ${colour.dim(JSON.stringify(fields))}` : '';
    warn(
      `${colour.dim(time)} ${tint[level]!(level.padEnd(5))} ${plugin_id ? `[${String(plugin_id)}] ` : ''}${msg ?? ''}${rest}`,
    );
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isLevelEnabled: (level) => order.indexOf(level) >= order.indexOf(minLevel),
  };
}

const LOOPBACK_NAME = /^(localhost|[^.]+(\.[^.]+)*\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Loopback as the kernel reports a bound address: 127/8, `::1`, and 127/8 mapped into IPv6. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether an address (as `server.address()` gives it) is a loopback one. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const family = isIP(address);
  if (family === 4) return LOOPBACK.check(address, 'ipv4');
  if (family === 6) return LOOPBACK.check(address, 'ipv6');
  return false;
}

/**
 * `listener`, except that a server bound to loopback (the default) answers 403 to a request whose
 * `Host` is not a loopback name: a web page the user visits can point its own name at 127.0.0.1 (DNS
 * rebinding) and would otherwise read the local gateway's answers as its own origin's. `bound` is the
 * address the server is bound to — give the server's own `address()` reader, so that what counts is
 * what was bound (`127.1`, `::ffff:127.0.0.1` and `localhost` all bind loopback), not how the config
 * spells it.
 */
export function loopbackHostGuard(
  bound: string | (() => string | undefined),
  listener: RequestListener,
): RequestListener {
  if (typeof bound === 'string' && !isLoopbackAddress(bound)) return listener;
  const address = typeof bound === 'string' ? () => bound : bound;
  return (req, res) => {
    const at = address();
    if (!isLoopbackAddress(at)) return listener(req, res);
    const name = (req.headers.host ?? '').replace(/:\d*$/, '');
    if (LOOPBACK_NAME.test(name)) return listener(req, res);
    writeError(
      res,
      ErrorCodes.FORBIDDEN,
      `this gateway listens on ${at} and answers only requests addressed to a loopback name`,
    );
  };
}

/** What `server` is bound to, as the kernel says. */
function boundAddress(server: Server): () => string | undefined {
  return () => {
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.address : undefined;
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * Serves the plugin in `dir` on `port`, swapping in the new code when a file changes; resolves on
 * SIGINT/SIGTERM. Code that does not load is shown and the last version that did serves on.
 */
export async function devCommand(
  dir: string,
  options: { port: number; host: string },
): Promise<void> {
  const root = path.resolve(dir);
  const log = prettyLogger('info');
  // The plugin being written boots at each load: its initialize() fails on save, not on a request.
  const gateway = new PluginGateway({ logger: log, sandbox: { bwrap: false }, warm: true });
  await gateway.start();
  let name: string | undefined;
  const showFailure = (error: unknown) => {
    const serving = name === undefined ? undefined : gateway.get(name);
    const reason = isSwapFailedError(error) && error.cause instanceof Error ? error.cause : error;
    const still =
      serving?.status === 'active'
        ? ` (still serving ${serving.name}@${serving.version}, the last version that loaded)`
        : '';
    log.error(
      { plugin_id: name },
      `${reason instanceof Error ? reason.message : String(reason)}${still}`,
    );
  };
  try {
    name = (await gateway.load(root)).name;
  } catch (error) {
    // Broken from the start: say so, and load it once it is fixed.
    showFailure(error);
  }
  const server = createServer();
  server.on('request', loopbackHostGuard(boundAddress(server), createRequestListener(gateway)));
  const port = await listen(server, options.port, options.host);
  log.info(
    { plugin_id: name },
    `serving on http://${options.host}:${port} — edit and save to reload`,
  );
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        // A swap: the new code starts beside the serving one and takes over only once it loaded.
        if (name !== undefined && gateway.get(name)) await gateway.swap(name, root);
        else name = (await gateway.load(root)).name;
        log.info({ plugin_id: name }, 'reloaded');
      } catch (error) {
        showFailure(error);
      }
    });
  };
  const watcher = watchFolder(root, reload, (why) => log.warn({ plugin_id: name }, why));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  watcher.close();
  await reloading;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await gateway.stop();
}

/** A `gateway.yaml`. */
export interface ServeConfig {
  /** Where to listen. */
  listen?: { host?: string; port?: number; prefix?: string };
  /** A folder of plugin folders, each loaded at start. */
  plugins?: string;
  /**
   * The discovery registry: `url` `etcd://host:port` (commas between several), `etcds://` for TLS,
   * `consul://host:port` or `consuls://` for TLS; `env` the environment this gateway registers in (and,
   * with `gateway.watch`, the one it follows); credentials: `tls`, etcd's `username`/`password`,
   * Consul's `token` (else the variables etcdctl and the consul CLI read).
   */
  registry?: { url: string; env?: string; namespace?: string } & RegistrySecurity;
  /** The gateway's options (the same schema as `new PluginGateway(options)`), JSON-able ones. */
  gateway?: Record<string, unknown>;
  /**
   * Probes for an orchestrator on a port of their own (`/livez`, `/readyz`), and how long a stop
   * signal waits with `/readyz` answering 503 before the gateway drains (`drainDelay`, default `5s`):
   * the time a load balancer needs to stop sending traffic.
   */
  health?: { host?: string; port: number; drainDelay?: string };
}

const SERVE_KEYS = ['listen', 'plugins', 'registry', 'gateway', 'health'];

/** Reads and checks `file`; problems as `file:line:col path: message`. */
export async function readServeConfig(file: string): Promise<ServeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
      Exit.USAGE,
    );
  }
  let config: ServeConfig;
  try {
    config = (parse(text) ?? {}) as ServeConfig;
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
  const problems = resolveReferences(config, text, file);
  for (const key of Object.keys(config)) {
    if (!SERVE_KEYS.includes(key)) {
      problems.push(`${fieldLocation(text, file, [key])}: ${unknownKeyMessage(key, SERVE_KEYS)}`);
    }
  }
  problems.push(...healthProblems(text, file, config.health));
  if (config.registry !== undefined)
    problems.push(...registryProblems(text, file, config.registry));
  const parsed = optionsSchema.safeParse(config.gateway ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = ['gateway', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      if (issue.code === 'unrecognized_keys') {
        const known = optionKeysAt(issue.path);
        for (const key of issue.keys) {
          problems.push(
            `${fieldLocation(text, file, [...where, key])}: ${unknownKeyMessage(key, known)}`,
          );
        }
      } else problems.push(`${fieldLocation(text, file, where)}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return config;
}

function healthProblems(text: string, file: string, health: unknown): string[] {
  if (health === undefined) return [];
  const at = (...keys: string[]) => fieldLocation(text, file, ['health', ...keys]);
  if (health === null || typeof health !== 'object' || Array.isArray(health)) {
    return [`${at()}: expected { port, host?, drainDelay? }`];
  }
  const problems: string[] = [];
  const { port, host, drainDelay, ...rest } = health as Record<string, unknown>;
  for (const key of Object.keys(rest))
    problems.push(`${at(key)}: ${unknownKeyMessage(key, ['port', 'host', 'drainDelay'])}`);
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    problems.push(`${at('port')}: expected a port number (1-65535)`);
  }
  if (host !== undefined && typeof host !== 'string')
    problems.push(`${at('host')}: expected a host`);
  if (drainDelay !== undefined) {
    const ms = typeof drainDelay === 'string' ? parseDuration(drainDelay) : undefined;
    if (ms === undefined || ms > 300_000) {
      problems.push(`${at('drainDelay')}: expected a duration such as "5s", at most 5 minutes`);
    }
  }
  return problems;
}

/** The keys the gateway's options schema knows at `at` (an object nested in the options). */
function optionKeysAt(at: readonly PropertyKey[]): string[] {
  interface Node {
    shape?: Record<string, unknown>;
    _zod?: { def?: { innerType?: unknown; in?: unknown } };
  }
  let node = optionsSchema as unknown as Node | undefined;
  const unwrap = () => {
    // default(), prefault(), optional() and pipes wrap the object that has the keys.
    while (node && node.shape === undefined && node._zod?.def) {
      node = (node._zod.def.innerType ?? node._zod.def.in) as Node | undefined;
    }
  };
  for (const key of at) {
    unwrap();
    node = node?.shape?.[String(key)] as Node | undefined;
  }
  unwrap();
  return node?.shape ? Object.keys(node.shape) : [];
}

/** Runs a standalone gateway from `configFile`; resolves on SIGINT/SIGTERM. */
export async function serveCommand(
  configFile: string,
  onListening?: (port: number) => void,
): Promise<void> {
  const file = path.resolve(configFile);
  const config = await readServeConfig(file);
  const options = config.gateway as GatewayOptions;
  const registry = config.registry
    ? await openRegistry(
        config.registry.url,
        config.registry.env ?? options?.watch?.env ?? 'default',
        config.registry.namespace,
        config.registry,
      )
    : undefined;
  const logger = options?.logger === undefined ? prettyLogger('info') : options.logger;
  const gateway = new PluginGateway({
    ...options,
    logger,
    ...(registry ? { registry } : {}),
  });
  const probeState: ProbeState = { started: false, draining: false };
  const probes =
    config.health && createProbeServer(gateway, registry, probeState, logger || undefined);
  if (probes) await listen(probes, config.health!.port, config.health!.host ?? '0.0.0.0');
  await gateway.start();
  if (config.plugins) {
    const folder = path.resolve(path.dirname(file), config.plugins);
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) await gateway.load(path.join(folder, entry.name));
    }
  }
  probeState.started = true;
  const host = config.listen?.host ?? '127.0.0.1';
  const server = createServer();
  server.on(
    'request',
    loopbackHostGuard(
      boundAddress(server),
      createRequestListener(gateway, { prefix: config.listen?.prefix }),
    ),
  );
  const port = await listen(server, config.listen?.port ?? 8080, host);
  warn(`gateway serving ${gateway.list().length} plugin(s) on http://${host}:${port}`);
  onListening?.(port);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  if (probes) {
    // Readiness answers 503 first, so that the load balancer stops sending traffic; requests that
    // still arrive meanwhile are served. Then the gateway drains and deregisters.
    probeState.draining = true;
    const delay = parseDuration(config.health!.drainDelay ?? '5s')!;
    warn(`stop signal: not ready, draining in ${delay} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  // No new connections; requests in flight are answered while the gateway drains them.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  await gateway.stop();
  server.closeAllConnections();
  await closed;
  await registry?.close();
  probes?.closeAllConnections();
  await new Promise((resolve) => (probes ? probes.close(resolve) : resolve(undefined)));
}
