/**
 * Signed catalog entries: a publisher signs an entry's name, version, environment and content hash with
 * an Ed25519 key (`packPlugin(dir, { signingKey, env })`); a gateway given `watch.trustedKeys` loads
 * only entries signed by one of them for its own `watch.env`. The hash covers every file, so the
 * signature covers the code; the environment stops an entry signed for staging from running in prod
 * (TUF's mix-and-match attack).
 *
 * What is signed, as UTF-8: `veza-plugin-artifact/v2\n<env>\n<name>\n<version>\n<hash>\n<keyId>`,
 * where `keyId` is `ed25519:` and the first 32 hex digits of the SHA-256 of the public key (SPKI, DER).
 * None of the fields can hold a newline (they are checked first), so the text has one reading.
 * @module
 */
import { createHash, createPublicKey, KeyObject, sign, verify } from 'node:crypto';

/** An Ed25519 key as a `KeyObject`, or PEM text / buffer. */
export type Ed25519Key = KeyObject | string | Buffer;

/** The signature of a catalog entry, stored in the entry. */
export interface ArtifactSignature {
  /** Which key signed: `ed25519:<32 hex>`, derived from the public key. */
  keyId: string;
  /** The Ed25519 signature, base64. */
  value: string;
  /** The environment it was signed for: a gateway watching another one refuses it. */
  env: string;
}

interface Signed {
  name: string;
  version: string;
  hash: string;
}

const HASH = /^sha256-[0-9a-f]{64}$/;
const KEY_ID = /^ed25519:[0-9a-f]{32}$/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const ENV = /^[a-z0-9][a-z0-9._-]{0,255}$/i;

/** The public half of an Ed25519 key (a private key gives its public key). */
export function ed25519PublicKey(key: Ed25519Key): KeyObject {
  const pub = key instanceof KeyObject && key.type === 'public' ? key : createPublicKey(key);
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 key, got ${pub.asymmetricKeyType ?? 'another kind'}`);
  }
  return pub;
}

/** `ed25519:<32 hex>` for a public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

function signedText(entry: Signed, env: string, keyId: string): Buffer {
  return Buffer.from(
    `veza-plugin-artifact/v2\n${env}\n${entry.name}\n${entry.version}\n${entry.hash}\n${keyId}`,
  );
}

/**
 * Signs an entry's name, version and hash for environment `env` with an Ed25519 private key.
 * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
 */
export function signEntry(entry: Signed, privateKey: Ed25519Key, env: string): ArtifactSignature {
  if (typeof env !== 'string' || !ENV.test(env)) {
    throw new TypeError(`environment "${String(env)}" must be letters, digits, ".", "_" or "-"`);
  }
  const keyId = keyIdOf(ed25519PublicKey(privateKey));
  const value = sign(null, signedText(entry, env, keyId), privateKey).toString('base64');
  return { keyId, value, env };
}

/**
 * Why `entry` is not signed by one of `trusted` for environment `env`, or `undefined` when it is. Reads
 * `entry.signature` as untrusted input (it came from the registry).
 */
export function signatureProblem(
  entry: Signed & { signature?: unknown },
  trusted: readonly KeyObject[],
  env: string,
): string | undefined {
  const s = entry.signature as Partial<ArtifactSignature> | undefined;
  if (s === undefined || s === null) return 'it is not signed';
  if (
    typeof s !== 'object' ||
    typeof s.keyId !== 'string' ||
    typeof s.value !== 'string' ||
    typeof s.env !== 'string'
  ) {
    return 'its signature is not { keyId, value, env } (signed before environments were signed?)';
  }
  if (!KEY_ID.test(s.keyId) || !SIGNATURE.test(s.value) || !HASH.test(entry.hash)) {
    return 'its signature is malformed';
  }
  if (s.env !== env) return `it is signed for environment "${s.env.slice(0, 128)}", not "${env}"`;
  const keys = trusted.filter((k) => keyIdOf(k) === s.keyId);
  if (keys.length === 0) return `it is signed by ${s.keyId}, which is not a trusted key`;
  const text = signedText(entry, env, s.keyId);
  const value = Buffer.from(s.value, 'base64');
  if (keys.some((k) => verify(null, text, k, value))) return undefined;
  return `its signature by ${s.keyId} does not match its name, version, environment and hash`;
}
