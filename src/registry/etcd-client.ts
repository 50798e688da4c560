/**
 * The `etcd3` client an `EtcdRegistry` makes for itself: TLS, credentials, keepalive and retry settings
 * suited to a fleet's registry.
 * @module
 */
import { createRequire } from 'node:module';
import { ExponentialBackoff, noop, type IBackoff } from 'cockatiel';
import type { Etcd3 } from 'etcd3';
import { RegistryError } from '../errors.js';

/** etcd3 is an optional peer: loaded when a registry makes its client, said plainly when missing. */
function etcd3(): typeof Etcd3 {
  try {
    return (createRequire(import.meta.url)('etcd3') as { Etcd3: typeof Etcd3 }).Etcd3;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw cause;
    throw new RegistryError(
      'EtcdRegistry needs the optional peer etcd3: npm i etcd3 (or pass a client of your own)',
      { cause },
    );
  }
}

const pem = (value: string | Buffer): Buffer =>
  typeof value === 'string' ? Buffer.from(value) : value;

/** A client of `endpoints`, with the registry's `tls` and `auth` options. */
export function etcdClient(
  endpoints: string | string[],
  options: {
    tls?: { ca: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
    auth?: { username: string; password: string };
  },
): Etcd3 {
  return new (etcd3())({
    hosts: endpoints,
    dialTimeout: 2000,
    ...(options.tls && {
      credentials: {
        rootCertificate: pem(options.tls.ca),
        ...(options.tls.cert && { certChain: pem(options.tls.cert) }),
        ...(options.tls.key && { privateKey: pem(options.tls.key) }),
      },
    }),
    ...(options.auth && {
      auth: { username: options.auth.username, password: options.auth.password },
    }),
    // A member cut off by a silent partition sends no RST: without pings a watch on it would wait
    // forever. etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
    grpcOptions: {
      'grpc.keepalive_time_ms': 5000,
      'grpc.keepalive_timeout_ms': 2000,
      'grpc.keepalive_permit_without_calls': 1,
    },
    faultHandling: {
      // One host policy per endpoint would hold calls back 5 s after three failures; the global retry
      // already moves between endpoints. Watches come back within 2 s of etcd returning.
      host: () => noop,
      // etcd3 types this as a backoff but calls it as cockatiel's factory (its own default is one).
      watchBackoff: new ExponentialBackoff({
        initialDelay: 100,
        maxDelay: 2000,
      }) as unknown as IBackoff<unknown>,
    },
  });
}
