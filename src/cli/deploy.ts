/**
 * `veza plugin deploy`: publishes a plugin folder to an environment's catalog, then follows the
 * gateways that watch that environment, from the status records they keep in the registry, until each
 * serves the new version `active` or refused it (and says why), or the timeout passes. When no gateway
 * watches the environment it says so at once, with the environments the registry's gateways do watch.
 * @module
 */
import { packPlugin } from '../fleet/artifacts.js';
import { openGatewayStatus } from '../fleet/gateway-status.js';
import type {
  CatalogEntry,
  DiscoveryRegistry,
  GatewayStatusRecord,
  InstanceRecord,
} from '../registry/registry.js';
import { signingKey } from './catalog-commands.js';
import { openRegistry } from './registry-config.js';
import { readSecretFile } from './config-references.js';
import { CliError, colour, ms, say, warn } from './output.js';

/** Status records read at most; a fleet is far smaller. */
const MAX_GATEWAYS = 1000;

/** What `deploy` saw when it stopped waiting. */
export interface DeployResult {
  /** Plugin name. */
  name: string;
  /** Version published. */
  version: string;
  /** Content hash of the entry. */
  hash: string;
  /** Whether the entry carries a signature. */
  signed: boolean;
  /**
   * The gateways that watch the environment (node ids), each with the new version's status there:
   * `waiting`, `loading`, `active`, `failed`, or `refused`.
   */
  gateways: Record<string, string>;
  /** Why a gateway refused the entry or why it failed there, by node id, in the gateway's words. */
  reasons: Record<string, string>;
  /** The registry's other gateways, each with the environment it watches (`null`: none). */
  elsewhere: Record<string, string | null>;
  /** Status records not believed: their node id (or `?`) and why. */
  ignored: string[];
  /** True when every gateway watching the environment (or `--expect` of them) serves it `active`. */
  healthy: boolean;
  /** From publishing to the verdict, ms. */
  durationMs: number;
}

export interface DeployOptions {
  env: string;
  registry: string;
  namespace?: string;
  signKey?: string;
  /** File holding the fleet's `node.secret`, to check the gateways' status records. */
  fleetSecretFile?: string;
  expect?: number;
  timeoutMs: number;
  progress: boolean;
}

/** A reason read from the registry, safe to print: no control characters (terminal escapes). */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

/** The gateways of the registry as their status records show them, verified when a secret is given. */
interface FleetView {
  /** Whether the registry holds status records at all (Consul does not). */
  supported: boolean;
  watching: GatewayStatusRecord[];
  elsewhere: Record<string, string | null>;
  ignored: string[];
}

async function fleetView(registry: DiscoveryRegistry, env: string, secret?: string) {
  const view: FleetView = { supported: false, watching: [], elsewhere: {}, ignored: [] };
  if (!registry.gateways) return view;
  view.supported = true;
  const values = await registry.gateways();
  // Whoever writes to the registry chooses how many records there are: read a fleet's worth.
  if (values.length > MAX_GATEWAYS) {
    view.ignored.push(`${values.length - MAX_GATEWAYS} records past the first ${MAX_GATEWAYS}`);
  }
  for (const value of values.slice(0, MAX_GATEWAYS)) {
    const opened = openGatewayStatus(value, secret);
    if ('refused' in opened) {
      view.ignored.push(printable(`${opened.nodeId ?? '?'}: ${opened.refused}`));
      continue;
    }
    const { record } = opened;
    if (record.watch === env) view.watching.push(record);
    else view.elsewhere[record.nodeId] = record.watch ?? null;
  }
  return view;
}

/** The new version's state on one gateway, and why when it did not take. */
function stateOn(record: GatewayStatusRecord, entry: CatalogEntry): [string, string?] {
  const plugin = record.plugins.find((p) => p.name === entry.name);
  if (plugin?.version === entry.version && plugin.status === 'active') return ['active'];
  // The newest refusal of this very entry: the watch gives up on what it refused.
  const refusal = record.refusals.findLast(
    (r) => r.name === entry.name && r.version === entry.version && r.hash === entry.hash,
  );
  if (refusal) return ['refused', printable(refusal.reason)];
  if (plugin?.version === entry.version)
    return [plugin.status, plugin.reason === undefined ? undefined : printable(plugin.reason)];
  return ['waiting'];
}

/** Who watches what, in one sentence: `production (gw-a, gw-b); none (gw-c)`. */
function describeElsewhere(elsewhere: Record<string, string | null>): string {
  const byEnv = new Map<string, string[]>();
  for (const [node, env] of Object.entries(elsewhere)) {
    const key = env ?? 'no catalog';
    byEnv.set(key, [...(byEnv.get(key) ?? []), node]);
  }
  return [...byEnv].map(([env, nodes]) => `${env} (${nodes.sort().join(', ')})`).join('; ');
}

async function fleetSecret(file: string | undefined): Promise<string | undefined> {
  const from = file ?? process.env['VEZA_FLEET_SECRET_FILE'];
  if (!from) return undefined;
  const read = readSecretFile(from);
  if ('problem' in read) throw new CliError(`--fleet-secret-file: ${read.problem}`);
  return read.content;
}

/**
 * Publishes `dir` to `env`, then waits until every gateway watching `env` (or `expect` of them) serves
 * the new version `active`, every one has answered (active, refused, failed), or `timeoutMs` passes.
 */
export async function deployCommand(dir: string, options: DeployOptions): Promise<DeployResult> {
  const key = await signingKey(options.signKey);
  const secret = await fleetSecret(options.fleetSecretFile);
  const entry = await packPlugin(dir, key ? { signingKey: key, env: options.env } : {});
  const registry = await openRegistry(options.registry, options.env, options.namespace);
  try {
    const started = performance.now();
    await registry.publish(options.env, entry);
    if (options.progress) {
      warn(
        `published ${entry.name}@${entry.version} (${entry.hash.slice(0, 19)}…) to ${options.env}`,
      );
      if (registry.gateways && secret === undefined) {
        warn(
          colour.dim(
            '  gateway status records are not verified (no --fleet-secret-file): anyone who can write to the registry can forge them',
          ),
        );
      }
    }
    const result = (
      over: Partial<DeployResult> & Pick<DeployResult, 'gateways' | 'healthy'>,
    ): DeployResult => ({
      name: entry.name,
      version: entry.version,
      hash: entry.hash,
      signed: entry.signature !== undefined,
      reasons: {},
      elsewhere: {},
      ignored: [],
      durationMs: performance.now() - started,
      ...over,
    });
    const deadline = Date.now() + options.timeoutMs;
    let last = '';
    for (;;) {
      const view = await fleetView(registry, options.env, secret);
      if (!view.supported) {
        const gateways = await fromInstances(registry, entry);
        const active = Object.values(gateways).filter((s) => s === 'active').length;
        const expected = options.expect ?? Object.keys(gateways).length;
        const healthy = expected > 0 && active >= expected;
        if (healthy || Date.now() > deadline) return result({ gateways, healthy });
      } else {
        if (view.watching.length === 0) {
          const others = Object.keys(view.elsewhere).length;
          throw new CliError(
            others === 0
              ? `no gateway watches "${options.env}": none keeps a status record in this registry${options.namespace ? ` (namespace "${options.namespace}")` : ''}; is a gateway with watch.env "${options.env}" running?`
              : `no gateway watches "${options.env}"; the registry's gateways watch: ${describeElsewhere(view.elsewhere)}`,
          );
        }
        const gateways: Record<string, string> = {};
        const reasons: Record<string, string> = {};
        for (const record of view.watching) {
          const [state, reason] = stateOn(record, entry);
          gateways[record.nodeId] = state;
          if (reason !== undefined && state !== 'loading') reasons[record.nodeId] = reason;
        }
        const states = Object.values(gateways);
        const active = states.filter((s) => s === 'active').length;
        const expected = options.expect ?? view.watching.length;
        const healthy = active >= expected;
        const answered = states.every((s) => s === 'active' || s === 'refused' || s === 'failed');
        const line = Object.entries(gateways)
          .map(([node, status]) => `${node}: ${status}`)
          .join(', ');
        if (options.progress && line !== last) {
          warn(`  ${active}/${expected} gateways active  ${colour.dim(line)}`);
          last = line;
        }
        if (healthy || answered || Date.now() > deadline) {
          const { elsewhere, ignored } = view;
          return result({ gateways, reasons, elsewhere, ignored, healthy });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await registry.close();
  }
}

/** For a registry without status records: each gateway listing instances, with the new version's status. */
async function fromInstances(
  registry: DiscoveryRegistry,
  entry: CatalogEntry,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of await registry.list()) out[i.nodeId] ??= 'waiting';
  const instances: InstanceRecord[] = await registry.list(entry.name);
  for (const i of instances) {
    if (i.version !== entry.version) continue;
    // Several instances on one gateway: it is active when one is.
    if (out[i.nodeId] !== 'active') out[i.nodeId] = i.status;
  }
  return out;
}

/** Prints a deploy's verdict, with each gateway's reason when it refused or failed. */
export function printDeploy(result: DeployResult): void {
  const verdict = result.healthy ? colour.green('healthy') : colour.red('not healthy');
  say(
    `${result.name}@${result.version} ${verdict} on ${Object.keys(result.gateways).length} gateway(s) in ${ms(result.durationMs)}`,
  );
  for (const [node, status] of Object.entries(result.gateways)) {
    const reason = result.reasons[node];
    say(`  ${node}: ${status}${reason === undefined ? '' : ` — ${reason}`}`);
  }
  if (Object.keys(result.elsewhere).length > 0) {
    say(colour.dim(`  other gateways watch: ${describeElsewhere(result.elsewhere)}`));
  }
  for (const ignored of result.ignored) {
    say(colour.yellow(`  ignored a gateway status record (${ignored})`));
  }
}
