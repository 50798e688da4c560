// Issue 23, class D: any catalog entry — a signed one with a field changed, its signature moved to
// another environment, random JSON — is checked without a stray throw (only the catalog's coded errors)
// and accepted only as signed, for the environment watched. A floor file of any content either loads or
// is refused with a coded error.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPlugin, type CatalogEntry } from '../../src/index.js';
import { checkEntry } from '../../src/fleet/artifacts.js';
import { VersionFloor } from '../../src/fleet/version-floor.js';
import { fixture } from '../helpers.js';
import { fuzzSettings } from './fuzz-settings.js';

const publisher = generateKeyPairSync('ed25519');
const trustedKeys = [publisher.publicKey];
const CODES = new Set([
  'PGW_ERR_CATALOG_INVALID',
  'PGW_ERR_ARTIFACT_SIGNATURE',
  'PGW_ERR_MANIFEST_INVALID',
]);
let signed: CatalogEntry;
const folder = mkdtempSync(path.join(os.tmpdir(), 'pgw-floor-fuzz-'));
beforeAll(async () => {
  signed = await packPlugin(fixture('profiles'), { signingKey: publisher.privateKey, env: 'prod' });
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const field = fc.constantFrom(
  'name',
  'version',
  'hash',
  'manifest',
  'files',
  'files.index.js',
  'files.plugin.yaml',
  'signature',
  'signature.env',
  'signature.keyId',
  'signature.value',
  'publishedAt',
);

/** Checks `entry` for prod: `'accepted'`, or the refusal's code. A throw without a code fails. */
function verdict(entry: unknown, env = 'prod'): string {
  try {
    checkEntry(entry as CatalogEntry, { trustedKeys, env });
    return 'accepted';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    expect(CODES.has(code as string), `${String(code)}: ${(error as Error).message}`).toBe(true);
    return code as string;
  }
}

describe('catalog entries as anyone with write access to the registry writes them', () => {
  it('accepts only the signed entry, for its own environment', () => {
    expect(verdict(signed)).toBe('accepted');
    expect(verdict(signed, 'staging')).toBe('PGW_ERR_ARTIFACT_SIGNATURE');
    fc.assert(
      fc.property(
        fc.oneof(
          {
            weight: 4,
            arbitrary: fc
              .tuple(field, fc.option(fc.anything(), { nil: undefined }))
              .map(([f, value]) => {
                const copy = structuredClone(signed) as unknown as Record<string, unknown>;
                const [a, ...rest] = f.split('.');
                if (rest.length === 0) copy[a!] = value;
                else (copy[a!] as Record<string, unknown>)[rest.join('.')] = value;
                return copy as unknown;
              }),
          },
          fc.jsonValue(),
          fc.anything(),
        ),
        (entry) => {
          const result = verdict(entry);
          const same = JSON.stringify(entry) === JSON.stringify(signed);
          // publishedAt is not signed (nor used); every other change is refused.
          const onlyDate =
            typeof entry === 'object' &&
            entry !== null &&
            JSON.stringify({ ...(entry as object), publishedAt: signed.publishedAt }) ===
              JSON.stringify(signed);
          if (result === 'accepted') expect(same || onlyDate).toBe(true);
        },
      ),
      fuzzSettings('catalog entries: checkEntry', 600),
    );
  });

  it('a floor file of any content loads, or is refused with a coded error naming it', () => {
    const file = path.join(folder, 'floor.json');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
          fc
            .dictionary(
              fc.string({ maxLength: 12 }),
              fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })),
            )
            .map((floors) => JSON.stringify({ version: 1, floors })),
        ),
        (text) => {
          writeFileSync(file, text);
          try {
            const floor = new VersionFloor(file);
            expect(floor.allows('prod', 'profiles', '0.0.1')).toBeTypeOf('boolean');
          } catch (error) {
            expect((error as { code?: string }).code).toBe('PGW_ERR_INVALID_ARGUMENT');
            expect((error as Error).message).toContain(file);
          }
        },
      ),
      fuzzSettings('catalog entries: floor file', 500),
    );
  });
});
