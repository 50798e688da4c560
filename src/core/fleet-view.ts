/**
 * The gateways of this gateway's fleet, as the status records they keep in the registry show them
 * (`GatewayStatusRecord`), each opened with the fleet's secret: a record whose seal does not verify is
 * listed as refused, never with what it claims. For the management API and the dashboard.
 * @module
 */
import { openGatewayStatus } from '../fleet/gateway-status.js';
import type { GatewayPluginState, GatewayRefusal } from '../registry/registry.js';
import type { ResolvedOptions } from './options.js';

/** Gateways shown at most. */
const MAX_SHOWN = 200;

/** One gateway of the fleet as the dashboard shows it. */
export interface FleetGateway {
  /** Its node id (as the record claims it, when the record is refused). */
  nodeId: string;
  /** Whether it is this gateway. */
  self: boolean;
  /** The registry environment of its instances. */
  environment?: string;
  /** The catalog environment it follows. */
  watch?: string;
  /** When it last wrote its record. */
  updatedAt?: string;
  /** Its plugins. */
  plugins?: GatewayPluginState[];
  /** Its latest catalog refusals, newest first (at most 5). */
  refusals?: GatewayRefusal[];
  /** Why its record is not believed (then nothing else of it is shown). */
  refused?: string;
}

/** Every gateway's record in the host's registry; none without one (or one that keeps no records). */
export async function fleetGateways(
  options: Readonly<ResolvedOptions>,
  nodeId: string,
): Promise<FleetGateway[]> {
  const registry = options.registry;
  if (!registry?.gateways) return [];
  const out: FleetGateway[] = [];
  // Whoever writes to the registry chooses how many records there are: show a fleet's worth.
  for (const value of (await registry.gateways()).slice(0, MAX_SHOWN)) {
    const opened = openGatewayStatus(value, options.node?.secret);
    if ('refused' in opened) {
      const claimed = opened.nodeId ?? '?';
      out.push({ nodeId: claimed, self: false, refused: opened.refused });
      continue;
    }
    const { nodeId: id, environment, watch, updatedAt, plugins, refusals } = opened.record;
    out.push({
      nodeId: id,
      self: id === nodeId,
      environment,
      ...(watch !== undefined && { watch }),
      updatedAt,
      plugins,
      refusals: refusals.slice(-5).reverse(),
    });
  }
  return out.sort((a, b) => Number(b.self) - Number(a.self) || a.nodeId.localeCompare(b.nodeId));
}
