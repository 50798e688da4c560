/**
 * The fleet's options: `node` (this gateway as a member of a fleet) and `watch` (a catalog environment
 * it follows). Part of the gateway's option schema (`options.ts`).
 * @module
 */
import { KeyObject } from 'node:crypto';
import { z } from '../shared/zod.js';
import { ed25519PublicKey } from '../fleet/artifact-signature.js';
import { lazySchema } from '../shared/lazy-schema.js';
import { boundedDurationMs } from '../shared/option-validation.js';

/** `node: { id, address, secret | insecure, openTimeout }`. */
export const nodeSchema = lazySchema(() =>
  z
    .strictObject({
      id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-"'),
      address: z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
        message: 'an http(s) URL where this gateway serves, e.g. "http://10.0.0.5:8080"',
      }),
      secret: z.string().min(16, 'at least 16 characters').optional(),
      insecure: z.literal('private-network').optional(),
      // How long a peer route waits for a call's body or a stream's call frame: a caller sends them
      // at once, so only a slow stranger is cut, before Node's own `requestTimeout` (5 min).
      openTimeout: boundedDurationMs(60_000, '60s')
        .refine((ms) => ms > 0, 'more than 0')
        .default(10_000),
    })
    .superRefine((node, ctx) => {
      if ((node.secret === undefined) === (node.insecure === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['secret'],
          input: node.secret,
          message:
            node.secret === undefined
              ? "a shared secret of 16+ characters, or `node.insecure: 'private-network'` to accept unsigned peer calls from loopback and private addresses"
              : 'set alone: `node.insecure` turns signing off, drop it when the fleet has a secret',
        });
      }
    })
    .optional(),
);

/** `watch: { env, cacheDir, trusted, trustedKeys, rolling, floorFile }`. */
export const watchSchema = lazySchema(() =>
  z
    .strictObject({
      env: z
        .string()
        .max(256)
        .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" or "-"'),
      cacheDir: z.string().min(1).optional(),
      trusted: z.boolean().default(false),
      trustedKeys: z
        .array(
          z.custom<string | Buffer | KeyObject>(
            (v) => typeof v === 'string' || Buffer.isBuffer(v) || v instanceof KeyObject,
          ),
        )
        .transform((keys, ctx) =>
          keys.flatMap((key, i) => {
            try {
              return [ed25519PublicKey(key)];
            } catch (error) {
              ctx.addIssue({
                code: 'custom',
                path: [i],
                message: `an Ed25519 public key (PEM or KeyObject): ${(error as Error).message}`,
              });
              return [];
            }
          }),
        )
        .optional(),
      rolling: z.boolean().default(false),
      floorFile: z.string().min(1).optional(),
    })
    .optional(),
);
