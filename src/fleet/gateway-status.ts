/**
 * A gateway's status record: what it publishes about itself in the registry (the catalog it watches,
 * the plugins it runs, the catalog entries it refused and why), sealed with the fleet's secret like its
 * instance records, so that `veza plugin deploy` can say why a deploy did not take and a record written
 * by anyone else is never believed.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from '../shared/zod.js';
import type {
  DiscoveryRegistry,
  GatewayRefusal,
  GatewayStatusRecord,
} from '../registry/registry.js';
import type { PluginStatus } from '../shared/types.js';
import type { GatewayLogger } from '../shared/logger.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** The seal's version: the first line of the sealed material. */
const SEAL_SCHEME = 'veza-gateway-status/1';
const MAX_PLUGINS = 1000;
const MAX_REFUSALS = 50;
const MAX_REASON = 1000;
/** Changes within this many ms go out in one write. */
const REPORT_DELAY_MS = 100;

const name = lazySchema(() => z.string().max(256));
const env = lazySchema(() => z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/i));

/** A status record as read from a shared store: every field bounded. */
const gatewayStatusSchema = lazySchema(() =>
  z.strictObject({
    nodeId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
    environment: env,
    watch: env.optional(),
    updatedAt: z.string().max(64),
    plugins: z
      .array(
        z.strictObject({
          name,
          version: name,
          status: z.enum(['loading', 'active', 'inactive', 'failed']),
          reason: z.string().max(MAX_REASON).optional(),
        }),
      )
      .max(MAX_PLUGINS),
    refusals: z
      .array(
        z.strictObject({
          name,
          version: name,
          hash: z.string().max(128).optional(),
          reason: z.string().max(MAX_REASON),
          at: z.string().max(64),
        }),
      )
      .max(MAX_REFUSALS),
    seal: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
);

function sealedMaterial(record: GatewayStatusRecord): string {
  return `${SEAL_SCHEME}\n${JSON.stringify([
    record.nodeId,
    record.environment,
    record.watch ?? null,
    record.updatedAt,
    record.plugins.map((p) => [p.name, p.version, p.status, p.reason ?? null]),
    record.refusals.map((r) => [r.name, r.version, r.hash ?? null, r.reason, r.at]),
  ])}`;
}

const mac = (secret: string, material: string): string =>
  createHmac('sha256', secret).update(material).digest('hex');

/** `record` with its `seal` set under `secret`; without a secret (`node.insecure`), unsealed. */
export function sealGatewayStatus(
  record: GatewayStatusRecord,
  secret: string | undefined,
): GatewayStatusRecord {
  const fields: GatewayStatusRecord = { ...record };
  delete fields.seal;
  return secret === undefined ? fields : { ...fields, seal: mac(secret, sealedMaterial(fields)) };
}

/**
 * A status record read from the registry as a typed value, or why it is refused: out of shape, or
 * (with a secret) not sealed, or sealed by someone without the fleet's secret. Never throws.
 */
export function openGatewayStatus(
  value: unknown,
  secret: string | undefined,
): { record: GatewayStatusRecord } | { refused: string; nodeId?: string } {
  const id = (value as { nodeId?: unknown } | null)?.nodeId;
  const nodeId = typeof id === 'string' ? id.slice(0, 128) : undefined;
  const parsed = gatewayStatusSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { refused: `field ${issue.path.join('.') || '(record)'}: ${issue.message}`, nodeId };
  }
  const record = parsed.data as GatewayStatusRecord;
  if (secret === undefined) return { record };
  if (record.seal === undefined)
    return { refused: 'it is not sealed with the fleet secret', nodeId };
  const expected = Buffer.from(mac(secret, sealedMaterial(record)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(record.seal, 'hex'))) {
    return { refused: 'its seal does not verify with the fleet secret', nodeId };
  }
  return { record };
}

export interface GatewayStatusParts {
  registry: DiscoveryRegistry;
  nodeId: string;
  secret: string | undefined;
  /** The registry's environment. */
  environment: string;
  /** The catalog environment the gateway watches. */
  watch: string | undefined;
  log: GatewayLogger;
  /** The plugins this gateway runs, as they are now. */
  plugins(): Iterable<{ name: string; version: string; status: PluginStatus; reason?: string }>;
}

/**
 * Keeps this gateway's status record up to date in the registry: changes are gathered for a moment and
 * written at once, one write at a time; a registry that cannot hold the record (no `reportGateway`)
 * makes this a no-op.
 */
export class GatewayStatusReporter {
  readonly #refusals: GatewayRefusal[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #failedOnce = false;

  constructor(readonly parts: GatewayStatusParts) {}

  /** Writes the first record (the gateway shows up even before it runs a plugin). */
  start(): void {
    this.#schedule();
  }

  /** A plugin was loaded, changed status or was unloaded: the record is written again shortly. */
  changed(): void {
    this.#schedule();
  }

  /** A catalog entry was refused, or failed to load or swap. */
  refused(event: { name: string; version: string; hash?: string; error: Error }): void {
    const code = (event.error as { code?: unknown }).code;
    const reason = `${typeof code === 'string' ? `${code} ` : ''}${event.error.message}`;
    this.#refusals.push({
      name: event.name,
      version: event.version,
      ...(event.hash !== undefined && { hash: event.hash }),
      reason: reason.slice(0, MAX_REASON),
      at: new Date().toISOString(),
    });
    if (this.#refusals.length > MAX_REFUSALS) this.#refusals.shift();
    this.#schedule();
  }

  /** Stops writing and withdraws the record. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#writing;
    await this.parts.registry.removeGateway?.(this.parts.nodeId).catch(() => {});
  }

  #schedule(): void {
    if (this.#closed || this.#timer || !this.parts.registry.reportGateway) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#write());
    }, REPORT_DELAY_MS);
    this.#timer.unref();
  }

  #plugins(): GatewayStatusRecord['plugins'] {
    const out: GatewayStatusRecord['plugins'] = [];
    for (const { name, version, status, reason } of this.parts.plugins()) {
      if (out.length === MAX_PLUGINS) break;
      const why =
        status === 'active' || reason === undefined ? {} : { reason: reason.slice(0, MAX_REASON) };
      out.push({ name, version, status, ...why });
    }
    return out;
  }

  async #write(): Promise<void> {
    if (this.#closed) return;
    const { nodeId, environment, watch, secret, registry } = this.parts;
    const record = sealGatewayStatus(
      {
        nodeId,
        environment,
        ...(watch !== undefined && { watch }),
        updatedAt: new Date().toISOString(),
        plugins: this.#plugins(),
        refusals: [...this.#refusals],
      },
      secret,
    );
    try {
      await registry.reportGateway!(record);
      this.#failedOnce = false;
    } catch (error) {
      // Said once per outage; tried again a second later.
      if (!this.#failedOnce) this.parts.log.warn({ err: error }, 'gateway status not written');
      this.#failedOnce = true;
      setTimeout(() => this.#schedule(), 1000).unref();
    }
  }
}
