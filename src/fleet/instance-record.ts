/**
 * Instance records as the fleet trusts them: checked field by field like a manifest, and sealed with
 * an HMAC under the fleet's secret (`node.secret`) bound to the environment, so that a value written to
 * etcd or Consul by anyone else than a member is never acted on.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { semver } from '../shared/semver.js';
import { z } from '../shared/zod.js';
import { endpointSchema } from '../manifest/schema.js';
import type { InstanceRecord } from '../registry/registry.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** The seal's version: the first line of the sealed material, so another scheme never verifies. */
const SEAL_SCHEME = 'veza-record/1';

const nodeId = lazySchema(() => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/));

/** A record as read from a shared store: every field bounded, nothing a router or a URL parser throws on. */
export const instanceRecordSchema = lazySchema(() =>
  z.strictObject({
    id: z.string().min(1).max(512),
    service: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
    version: z
      .string()
      .max(256)
      .refine((v) => semver.valid(v) !== null),
    nodeId,
    address: z
      .string()
      .max(2048)
      .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol))
      .optional(),
    endpoints: z.array(endpointSchema).max(1000),
    status: z.enum(['loading', 'active', 'inactive', 'failed']),
    metadata: z
      .record(z.string().max(128), z.string().max(8192))
      .refine((m) => Object.keys(m).length <= 300),
    seal: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
);

/** The bytes a seal covers: every field in a fixed order, and the environment the record is for. */
function sealedMaterial(record: InstanceRecord, environment: string): string {
  const endpoints = record.endpoints.map((e) => [
    e.method,
    e.path,
    e.auth,
    [...e.roles],
    e.rate_limit ?? null,
    e.timeout ?? null,
  ]);
  const metadata = Object.entries(record.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${SEAL_SCHEME}\n${JSON.stringify([
    environment,
    record.id,
    record.service,
    record.version,
    record.nodeId,
    record.address ?? null,
    endpoints,
    record.status,
    metadata,
  ])}`;
}

function mac(secret: string, material: string): string {
  return createHmac('sha256', secret).update(material).digest('hex');
}

/**
 * `record` with its `seal` set: HMAC-SHA256 under `secret` of the record's fields and `environment`.
 * Without a secret (`node.insecure`), the record as it is.
 */
export function sealRecord(
  record: InstanceRecord,
  secret: string | undefined,
  environment: string,
): InstanceRecord {
  const fields: InstanceRecord = { ...record };
  delete fields.seal;
  if (secret === undefined) return fields;
  return { ...fields, seal: mac(secret, sealedMaterial(fields, environment)) };
}

/**
 * The record read from the registry as a typed value, or why it is refused: a field out of shape, or
 * (with a secret) a missing seal or one that does not verify for this environment. Never throws.
 */
export function openRecord(
  value: unknown,
  secret: string | undefined,
  environment: string,
): { record: InstanceRecord } | { refused: string } {
  const parsed = instanceRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { refused: `field ${issue.path.join('.') || '(record)'}: ${issue.message}` };
  }
  const record = parsed.data as InstanceRecord;
  if (secret === undefined) return { record };
  if (record.seal === undefined) return { refused: 'it is not sealed with the fleet secret' };
  const expected = Buffer.from(mac(secret, sealedMaterial(record, environment)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(record.seal, 'hex'))) {
    return { refused: `its seal does not verify for environment "${environment}"` };
  }
  return { record };
}
