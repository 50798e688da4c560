/**
 * The probes `veza gateway serve` answers for an orchestrator (a kubelet), on a port of their own so that
 * no plugin route can shadow them and no plugin traffic waits behind them:
 * - `GET /livez`: the process answers (200);
 * - `GET /readyz`: 200 once the gateway started and loaded its plugins, none is still booting, and the
 *   registry answers a listing within a second; 503 with the reasons otherwise, and from the moment a
 *   SIGTERM arrives, so that the Service stops sending traffic before the gateway drains.
 *
 * The probe port is unauthenticated (it listens on 0.0.0.0 by default): a prober learns the kind of each
 * reason only (`draining`, `starting`, `booting`, `registry`). Which plugins are booting and what the
 * registry answered (its error can name hosts, paths, credentials' users) go to the log, once per change.
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { PluginGateway } from '../core/gateway.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import type { GatewayLogger } from '../shared/logger.js';

/** What the readiness probe knows beyond the gateway itself. */
export interface ProbeState {
  /** `start()` resolved and the plugins folder is loaded. */
  started: boolean;
  /** A SIGTERM (or SIGINT) arrived: the gateway is about to drain. */
  draining: boolean;
}

const REGISTRY_PROBE_MS = 1000;

/**
 * The registry's listing in flight, shared by every probe that arrives meanwhile: a listing that hangs
 * outlives the probe's deadline, and a probe port open to the network would otherwise let anyone pile
 * up unanswered listings on the registry, one per request.
 */
const listingsInFlight = new WeakMap<DiscoveryRegistry, Promise<'ok' | Error>>();

function registryAnswer(registry: DiscoveryRegistry): Promise<'ok' | Error> {
  let answer = listingsInFlight.get(registry);
  if (answer === undefined) {
    answer = registry
      .list('veza-readiness-probe')
      .then(
        () => 'ok' as const,
        (error: Error) => error,
      )
      .finally(() => listingsInFlight.delete(registry));
    listingsInFlight.set(registry, answer);
  }
  return answer;
}

/** One reason the gateway is not ready: its public kind, and the detail only the log hears. */
export interface NotReadyReason {
  kind: 'draining' | 'starting' | 'booting' | 'registry';
  detail: string;
}

/** The reasons the gateway is not ready, or none. */
export async function notReadyReasons(
  gateway: PluginGateway,
  registry: DiscoveryRegistry | undefined,
  state: ProbeState,
): Promise<NotReadyReason[]> {
  const reasons: NotReadyReason[] = [];
  if (state.draining) reasons.push({ kind: 'draining', detail: 'a stop signal arrived' });
  if (!state.started) reasons.push({ kind: 'starting', detail: 'plugins are being loaded' });
  const booting = gateway.list().filter((info) => info.status === 'loading');
  if (booting.length > 0)
    reasons.push({ kind: 'booting', detail: booting.map((info) => info.name).join(', ') });
  if (registry) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), REGISTRY_PROBE_MS);
    });
    const answer = await Promise.race([registryAnswer(registry), late]);
    clearTimeout(timer);
    if (answer === 'late')
      reasons.push({ kind: 'registry', detail: `no answer within ${REGISTRY_PROBE_MS} ms` });
    else if (answer !== 'ok') reasons.push({ kind: 'registry', detail: answer.message });
  }
  return reasons;
}

/** A server answering `/livez` and `/readyz` (anything else 404). */
export function createProbeServer(
  gateway: PluginGateway,
  registry: DiscoveryRegistry | undefined,
  state: ProbeState,
  logger?: GatewayLogger,
): Server {
  // Probes come every few seconds: the details are logged when they change, not on every probe.
  let lastLogged = '';
  const answerNotReady = (reasons: NotReadyReason[]): string[] => {
    const detail = reasons.map((r) => `${r.kind}: ${r.detail}`).join('; ');
    if (detail !== lastLogged) {
      lastLogged = detail;
      logger?.warn({ reasons: reasons.map((r) => `${r.kind}: ${r.detail}`) }, 'not ready');
    }
    return reasons.map((r) => r.kind);
  };
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { status: 'method' });
    if (path === '/livez') return send(200, { status: 'ok' });
    if (path !== '/readyz') return send(404, { status: 'not-found' });
    notReadyReasons(gateway, registry, state).then(
      (reasons) => {
        if (reasons.length > 0)
          return send(503, { status: 'not-ready', reasons: answerNotReady(reasons) });
        lastLogged = '';
        send(200, { status: 'ready', plugins: gateway.list().length });
      },
      (error: Error) => {
        logger?.error({ err: error }, 'readiness probe failed');
        send(503, { status: 'not-ready', reasons: ['error'] });
      },
    );
  });
}
