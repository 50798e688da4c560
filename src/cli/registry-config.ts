/**
 * A registry named by URL on the command line or in gateway.yaml (`etcd://`, `etcds://`, `consul://`,
 * `consuls://`), with its credentials: gateway.yaml's `registry` fields first, then the variables that
 * etcdctl and the consul CLI read, so an operator's shell that reaches the registry reaches it here too.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { DiscoveryRegistry } from '../registry/registry.js';
import { fieldLocation } from '../manifest/manifest.js';
import { withOptionalPeer } from './optional-peer.js';
import { CliError, Exit } from './output.js';
import { unknownKeyMessage } from './did-you-mean.js';

/** TLS material (PEM text) and credentials for a registry, from gateway.yaml or the environment. */
export interface RegistrySecurity {
  tls?: { ca: string; cert?: string; key?: string };
  /** etcd's user and password. */
  username?: string;
  password?: string;
  /** Consul's ACL token (`X-Consul-Token`). */
  token?: string;
}

const REGISTRY_URL = /^(etcds?|consuls?):\/\/([^/]+)\/?$/;
const URL_FORMS =
  'etcd://host:port[,host:port], etcds://host:port (TLS), consul://host:port or consuls://host:port (TLS)';
export const REGISTRY_KEYS = ['url', 'env', 'namespace', 'tls', 'username', 'password', 'token'];

/**
 * Opens the registry at `url` for environment `env`.
 * @throws {CliError} for a URL of another form, or credentials of the other kind of registry.
 */
export async function openRegistry(
  url: string,
  env: string,
  namespace: string | undefined,
  given: RegistrySecurity = {},
  variables: NodeJS.ProcessEnv = process.env,
): Promise<DiscoveryRegistry> {
  const match = REGISTRY_URL.exec(url);
  const shown = redacted(url);
  if (!match) throw new CliError(`--registry must be ${URL_FORMS}, got "${shown}"`, Exit.USAGE);
  const [, kind, hosts] = match as unknown as [string, string, string];
  if (hosts.includes('@')) {
    throw new CliError(
      `registry ${shown}: credentials go in gateway.yaml's registry fields or the environment (ETCDCTL_USER, CONSUL_HTTP_TOKEN), not in the URL`,
      Exit.USAGE,
    );
  }
  const mismatch = credentialMismatch(kind, hosts, given);
  if (mismatch) throw new CliError(`registry ${shown}: ${mismatch.message}`, Exit.USAGE);
  const secure = { ...fromEnvironment(kind, variables), ...definedOnly(given) };
  // A user and its password come from one source: gateway.yaml's pair, else the environment's.
  if ((given.username === undefined) !== (given.password === undefined)) {
    throw new CliError(`registry ${shown}: ${HALF_PAIR}`, Exit.USAGE);
  }
  if (secure.tls && !kind.endsWith('s')) {
    // TLS material for a plain URL: the operator meant TLS, and credentials would otherwise go in clear.
    const from = given.tls ? 'registry.tls' : kind === 'etcd' ? 'ETCDCTL_CACERT' : 'CONSUL_CACERT';
    throw new CliError(
      `registry ${shown}: ${from} is set but the URL is plain text; use ${kind}s:// for TLS`,
      Exit.USAGE,
    );
  }
  if (kind.startsWith('etcd')) {
    const scheme = kind === 'etcds' ? 'https' : 'http';
    // The client is made in the constructor: etcd3 is needed there, not at the import.
    return withOptionalPeer('etcd3', `the registry ${shown}`, async () => {
      const { EtcdRegistry } = await import('../registry/etcd.js');
      return new EtcdRegistry({
        endpoints: hosts.split(',').map((h) => `${scheme}://${h}`),
        environment: env,
        ...(namespace ? { namespace } : {}),
        ...(secure.tls && { tls: secure.tls }),
        ...(secure.username !== undefined &&
          secure.password !== undefined && {
            auth: { username: secure.username, password: secure.password },
          }),
      });
    });
  }
  const { ConsulRegistry } = await import('../registry/consul.js');
  const [host, port] = hosts.split(':');
  return new ConsulRegistry({
    host: host!,
    port: Number(port ?? 8500),
    scheme: kind === 'consuls' ? 'https' : 'http',
    environment: env,
    ...(namespace ? { namespace } : {}),
    ...(secure.token !== undefined && { token: secure.token }),
    ...(secure.tls && { tls: secure.tls }),
  });
}

const HALF_PAIR =
  "registry.username and registry.password go together (one source for both: gateway.yaml's, else ETCDCTL_USER)";

/** `url` with any user and password in it hidden, for a message. */
function redacted(url: string): string {
  return url.replace(/\/\/[^/]*@/, '//…@');
}

/** gateway.yaml's `registry:` section checked, each problem as `file:line:col registry.field: message`. */
export function registryProblems(text: string, file: string, registry: unknown): string[] {
  const at = (...keys: string[]) => fieldLocation(text, file, ['registry', ...keys]);
  if (registry === null || typeof registry !== 'object' || Array.isArray(registry)) {
    return [`${at()}: expected { url, env?, namespace?, tls?, username?, password?, token? }`];
  }
  const fields = registry as Record<string, unknown>;
  const problems: string[] = [];
  const url = fields['url'];
  const match = typeof url === 'string' ? REGISTRY_URL.exec(url) : null;
  if (!match) {
    problems.push(
      `${typeof url === 'string' ? at('url') : at()}: expected registry.url as ${URL_FORMS}`,
    );
  }
  for (const key of Object.keys(fields)) {
    if (!REGISTRY_KEYS.includes(key))
      problems.push(`${at(key)}: ${unknownKeyMessage(key, REGISTRY_KEYS)}`);
  }
  const tls = fields['tls'];
  if (
    tls !== undefined &&
    (typeof tls !== 'object' || tls === null || typeof (tls as { ca?: unknown }).ca !== 'string')
  ) {
    problems.push(`${at('tls')}: expected { ca, cert?, key? } (PEM, e.g. \${file:/path})`);
  }
  for (const key of ['username', 'password', 'token']) {
    if (fields[key] !== undefined && typeof fields[key] !== 'string') {
      problems.push(`${at(key)}: expected a string (e.g. \${env:NAME} or \${file:/path})`);
    }
  }
  if (match && tls !== undefined && !match[1]!.endsWith('s')) {
    problems.push(
      `${at('tls')}: registry.tls needs a TLS URL (${match[1]}s://), not ${match[1]}://`,
    );
  }
  if ((fields['username'] === undefined) !== (fields['password'] === undefined)) {
    problems.push(
      `${at(fields['username'] === undefined ? 'password' : 'username')}: ${HALF_PAIR}`,
    );
  }
  const mismatch = match && credentialMismatch(match[1]!, match[2]!, fields as RegistrySecurity);
  if (mismatch) problems.push(`${at(mismatch.key)}: ${mismatch.message}`);
  return problems;
}

/** The field that cannot go with this kind of registry, and why; or undefined. */
function credentialMismatch(
  kind: string,
  hosts: string,
  given: RegistrySecurity,
): { key: string; message: string } | undefined {
  if (kind.startsWith('consul')) {
    if (hosts.includes(',')) {
      return { key: 'url', message: "a Consul registry is one agent (this host's), not a list" };
    }
    const etcdOnly =
      given.username !== undefined
        ? 'username'
        : given.password !== undefined
          ? 'password'
          : undefined;
    return (
      etcdOnly && {
        key: etcdOnly,
        message: `registry.${etcdOnly} is etcd's; Consul takes registry.token (an ACL token)`,
      }
    );
  }
  return given.token === undefined
    ? undefined
    : {
        key: 'token',
        message:
          "registry.token is Consul's ACL token; etcd takes registry.username and registry.password",
      };
}

/**
 * What etcdctl (`ETCDCTL_CACERT`, `ETCDCTL_CERT`, `ETCDCTL_KEY`, `ETCDCTL_USER` as `name:password`
 * or with `ETCDCTL_PASSWORD`) or the consul CLI (`CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE`,
 * `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`) would use.
 */
function fromEnvironment(kind: string, variables: NodeJS.ProcessEnv): RegistrySecurity {
  const file = (name: string): string | undefined => {
    const at = variables[name];
    if (!at) return undefined;
    try {
      return readFileSync(at, 'utf8');
    } catch (error) {
      throw new CliError(
        `${name}=${at}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
        Exit.USAGE,
      );
    }
  };
  const tlsFrom = (ca: string, cert: string, key: string): RegistrySecurity['tls'] => {
    const pem = { ca: file(ca), cert: file(cert), key: file(key) };
    if (pem.ca === undefined) return undefined;
    return definedOnly(pem) as RegistrySecurity['tls'];
  };
  if (kind.startsWith('etcd')) {
    const user = variables['ETCDCTL_USER'];
    const colon = user?.indexOf(':') ?? -1;
    return definedOnly({
      tls: tlsFrom('ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY'),
      username: colon >= 0 ? user!.slice(0, colon) : user || undefined,
      password: colon >= 0 ? user!.slice(colon + 1) : variables['ETCDCTL_PASSWORD'],
    });
  }
  const token = variables['CONSUL_HTTP_TOKEN'] || file('CONSUL_HTTP_TOKEN_FILE')?.trim();
  return definedOnly({
    tls: tlsFrom('CONSUL_CACERT', 'CONSUL_CLIENT_CERT', 'CONSUL_CLIENT_KEY'),
    token: token || undefined,
  });
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
