/**
 * A prefix watch on etcd that survives lost connections: it lists what is there, watches from the
 * listing's revision, and after a reconnect re-lists and reports the difference.
 * @module
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { RegistryError } from '../errors.js';
import type { Unsubscribe, WatchStatus } from './registry.js';

/**
 * Reports every key under `prefix` (as puts), then every change. After a lost connection it re-lists
 * and reports the difference, so nothing is missed even when etcd compacted the revisions meanwhile.
 * Every `reconcileMs` it re-lists too, with a deadline: a watch stream on a member that a silent
 * partition cut off reports nothing and no error until gRPC gives the connection up, while a listing
 * goes to a member that answers. `apply` must ignore a value it already has.
 */
export function watchPrefix(
  client: Etcd3,
  /** The registry's live watches: this one adds its stop function, and removes it when stopped. */
  watchers: Set<() => void>,
  prefix: string,
  apply: (key: string, value: string | undefined) => void,
  knownKeys: () => string[],
  status: WatchStatus | undefined,
  reconcileMs: number,
): Unsubscribe {
  let stopped = false;
  let watcher: Watcher | undefined;
  let disconnected = false;
  const relist = async (deadlineMs?: number): Promise<string> => {
    const query = client.getAll().prefix(prefix);
    if (deadlineMs !== undefined) query.options({ deadline: Date.now() + deadlineMs });
    const res = await query.exec();
    if (stopped) return '0';
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      seen.add(key);
      apply(key, kv.value.toString());
    }
    for (const key of knownKeys()) if (!seen.has(key)) apply(key, undefined);
    return res.header.revision;
  };
  const start = async (): Promise<void> => {
    try {
      const revision = await relist();
      if (stopped) return;
      const w = await client
        .watch()
        .prefix(prefix)
        .startRevision(String(BigInt(revision) + 1n))
        .create();
      if (stopped) {
        await w.cancel();
        return;
      }
      watcher = w;
      if (disconnected) {
        // The first attempts failed (reported below); this one re-listed: the watch is whole again.
        disconnected = false;
        status?.onReconnected?.();
      }
      w.on('put', (kv: IKeyValue) => apply(kv.key.toString(), kv.value.toString()));
      w.on('delete', (kv: IKeyValue) => apply(kv.key.toString(), undefined));
      w.on('disconnected', (error: Error) => {
        if (disconnected || stopped) return;
        disconnected = true;
        status?.onError?.(new RegistryError('lost the etcd watch', { cause: error }));
      });
      w.on('connected', () => {
        if (!disconnected || stopped) return;
        relist().then(
          () => {
            disconnected = false;
            if (!stopped) status?.onReconnected?.();
          },
          (error: Error) =>
            status?.onError?.(
              new RegistryError('re-listing after reconnect failed', { cause: error }),
            ),
        );
      });
      w.on('error', (error: Error) =>
        status?.onError?.(new RegistryError('etcd watch error', { cause: error })),
      );
    } catch (error) {
      if (stopped) return;
      if (!disconnected) {
        disconnected = true;
        status?.onError?.(new RegistryError('could not start the etcd watch', { cause: error }));
      }
      setTimeout(() => void start(), 1000).unref();
    }
  };
  void start();
  let reconciling = false;
  const reconcile = setInterval(() => {
    if (reconciling || stopped) return;
    reconciling = true;
    // A listing that a silent member does not answer is tried again at once (the client picks a
    // member per call), three times; the watch's own errors are what status reports.
    const attempt = (left: number): Promise<unknown> =>
      relist(Math.min(reconcileMs, 2000)).catch(() =>
        left > 1 && !stopped ? attempt(left - 1) : undefined,
      );
    void attempt(3).finally(() => (reconciling = false));
  }, reconcileMs).unref();
  const stop = (): void => {
    stopped = true;
    clearInterval(reconcile);
    watchers.delete(stop);
    void watcher?.cancel().catch(() => {});
  };
  watchers.add(stop);
  return stop;
}
