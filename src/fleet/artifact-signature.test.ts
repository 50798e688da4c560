import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519PublicKey, keyIdOf, signatureProblem, signEntry } from './artifact-signature.js';

const publisher = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const entry = { name: 'orders', version: '1.2.3', hash: `sha256-${'ab'.repeat(32)}` };
const ENV = 'prod';
const signed = () => ({ ...entry, signature: signEntry(entry, publisher.privateKey, ENV) });

describe('signed catalog entries', () => {
  it('names a key by the SHA-256 of its public key, whether given the private or the public half', () => {
    const der = publisher.publicKey.export({ type: 'spki', format: 'der' });
    const expected = `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
    expect(keyIdOf(publisher.publicKey)).toBe(expected);
    expect(keyIdOf(ed25519PublicKey(publisher.privateKey))).toBe(expected);
    expect(ed25519PublicKey(publisher.publicKey)).toBe(publisher.publicKey);
    const pem = publisher.privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(keyIdOf(ed25519PublicKey(pem))).toBe(expected);
    expect(signEntry(entry, publisher.privateKey, ENV).keyId).toBe(expected);
  });

  it('signs exactly the documented text (a fixed key gives a fixed signature: Ed25519 is deterministic)', () => {
    // A key made for this test only: the format must not change under entries already signed.
    const pem =
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEQYv26Bi766F9WhmAkPK/3E+gCZS5E0o7dG+uhSRBCD\n-----END PRIVATE KEY-----\n';
    expect(signEntry(entry, pem, ENV)).toEqual({
      keyId: 'ed25519:7506a38228cf700d9ba42bf6afd142bb',
      value:
        'yeAGuBiJ+UR0w2rm5+T1yNxcUzgr6xjAVw9f6NXnvImH3tHOEeBZP/slbSXVWx+rCHgm1KRuuHvc5HN/LlYxBw==',
      env: 'prod',
    });
  });

  it('refuses a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => ed25519PublicKey(rsa.publicKey)).toThrow(
      new TypeError('expected an Ed25519 key, got rsa'),
    );
  });

  it('accepts an entry signed by a trusted key, among others', () => {
    expect(signatureProblem(signed(), [publisher.publicKey], ENV)).toBeUndefined();
    expect(signatureProblem(signed(), [other.publicKey, publisher.publicKey], ENV)).toBeUndefined();
  });

  it('refuses an entry whose name, version or hash changed after signing', () => {
    for (const change of [
      { name: 'orderz' },
      { version: '1.2.4' },
      { hash: `sha256-${'cd'.repeat(32)}` },
    ]) {
      expect(signatureProblem({ ...signed(), ...change }, [publisher.publicKey], ENV)).toBe(
        `its signature by ${keyIdOf(publisher.publicKey)} does not match its name, version, environment and hash`,
      );
    }
  });

  it('refuses an entry signed by a key it does not trust', () => {
    expect(signatureProblem(signed(), [other.publicKey], ENV)).toBe(
      `it is signed by ${keyIdOf(publisher.publicKey)}, which is not a trusted key`,
    );
    expect(signatureProblem(signed(), [], ENV)).toMatch(/which is not a trusted key$/);
  });

  it('refuses an entry signed for another environment, and signing for a malformed one', () => {
    expect(signatureProblem(signed(), [publisher.publicKey], 'staging')).toBe(
      'it is signed for environment "prod", not "staging"',
    );
    expect(() => signEntry(entry, publisher.privateKey, 'two words')).toThrow(TypeError);
  });

  it('refuses a forged signature under a trusted key id', () => {
    const forged = signEntry(entry, other.privateKey, ENV);
    const entryWith = {
      ...entry,
      signature: { keyId: keyIdOf(publisher.publicKey), value: forged.value, env: ENV },
    };
    expect(signatureProblem(entryWith, [publisher.publicKey], ENV)).toMatch(/does not match/);
  });

  it('reads the signature as untrusted input', () => {
    const good = signed().signature;
    const cases: [unknown, string][] = [
      [undefined, 'it is not signed'],
      [null, 'it is not signed'],
      [
        'sig',
        'its signature is not { keyId, value, env } (signed before environments were signed?)',
      ],
      [
        { keyId: good.keyId },
        'its signature is not { keyId, value, env } (signed before environments were signed?)',
      ],
      [
        { value: good.value },
        'its signature is not { keyId, value, env } (signed before environments were signed?)',
      ],
      [
        { keyId: 1, value: good.value },
        'its signature is not { keyId, value, env } (signed before environments were signed?)',
      ],
      [{ keyId: `x${good.keyId}`, value: good.value, env: ENV }, 'its signature is malformed'],
      [{ keyId: `${good.keyId}0`, value: good.value, env: ENV }, 'its signature is malformed'],
      [{ keyId: good.keyId, value: `${good.value}A`, env: ENV }, 'its signature is malformed'],
      [{ keyId: good.keyId, value: `A${good.value}`, env: ENV }, 'its signature is malformed'],
      [
        { keyId: good.keyId, value: good.value.replace('==', ''), env: ENV },
        'its signature is malformed',
      ],
    ];
    for (const [signature, problem] of cases) {
      expect(signatureProblem({ ...entry, signature }, [publisher.publicKey], ENV)).toBe(problem);
    }
    for (const hash of [
      `sha256-${'AB'.repeat(32)}`,
      `xsha256-${'ab'.repeat(32)}`,
      `sha256-${'ab'.repeat(32)}0`,
    ]) {
      expect(signatureProblem({ ...signed(), hash }, [publisher.publicKey], ENV)).toBe(
        'its signature is malformed',
      );
    }
  });
});
