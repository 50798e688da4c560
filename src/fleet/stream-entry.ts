/**
 * What one entry of the fleet's event stream holds, and how a consumer tells the fleet's entries from
 * anyone else's: the event as JSON (`e`), checked like a manifest, and with the fleet's secret an
 * HMAC (`mac`) over the stream's name and those exact bytes.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from '../shared/zod.js';
import type { BrokerEvent } from './event-broker.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** The seal's version: the first line of the sealed material. */
const SEAL_SCHEME = 'veza-event/1';

const text = (max: number) => z.string().min(1).max(max);

/** An event as a consumer accepts it from the stream; the payload is the handler's to judge. */
const eventSchema = lazySchema(() =>
  z.object({
    type: text(256),
    id: text(256),
    timestamp: z.number().finite(),
    source: text(128).optional(),
    userId: z.union([z.string().max(1024), z.number().finite(), z.null()]).optional(),
    payload: z.unknown().optional(),
  }),
);

/** The `mac` field of an entry carrying `raw` on `stream`: hex HMAC-SHA256 under the fleet secret. */
export function entryMac(secret: string, stream: string, raw: string): string {
  return createHmac('sha256', secret)
    .update(`${SEAL_SCHEME}\n${stream}\n`)
    .update(raw)
    .digest('hex');
}

/** The value of field `name` in an entry's flat field list. */
export function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * An entry's event, or why it is refused: too large, not sealed under the fleet secret (when there is
 * one), or not an event the gateway writes. Anyone with Redis access can append; nothing here throws.
 */
export function openEntry(
  fields: string[] | null,
  settings: { stream: string; maxEventBytes: number; secret?: string | undefined },
): { event: BrokerEvent; raw: string } | { refused: string; raw: string } {
  const raw = (Array.isArray(fields) ? fieldOf(fields, 'e') : undefined) ?? '';
  if (typeof raw !== 'string' || raw === '') return { refused: 'not a gateway event', raw: '' };
  const bytes = Buffer.byteLength(raw);
  if (bytes > settings.maxEventBytes) {
    return { refused: `${bytes} bytes, over maxEventBytes`, raw: '' };
  }
  if (settings.secret !== undefined) {
    const mac = fieldOf(fields!, 'mac');
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) {
      return { refused: 'not sealed with the fleet secret', raw };
    }
    const expected = Buffer.from(entryMac(settings.secret, settings.stream, raw), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) {
      return { refused: 'its seal does not verify', raw };
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { refused: 'not a gateway event', raw };
  }
  const parsed = eventSchema.safeParse(value);
  if (!parsed.success) return { refused: 'not a gateway event', raw };
  return { event: parsed.data as BrokerEvent, raw };
}
