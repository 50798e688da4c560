// Issue 12: any peer-protocol envelope → a 4xx, or a 200 carrying a correct answer; never a throw.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { PEER_CONTENT_TYPE, peerHeaders } from '../../src/fleet/peer-protocol.js';
import { fixture } from '../helpers.js';
import { fuzzSettings } from './fuzz-settings.js';

const SECRET = 'fuzz-fleet-secret-0123456789';
let open: PluginGateway;
let signed: PluginGateway;

async function member(id: string, node: object): Promise<PluginGateway> {
  const gateway = new PluginGateway({
    logger: false,
    node: { id, address: 'http://127.0.0.1:9', ...node },
  });
  await gateway.load(fixture('profiles'), { config: { node: id } });
  await gateway.start();
  return gateway;
}

beforeAll(async () => {
  open = await member('fuzz-open', { insecure: 'private-network' });
  signed = await member('fuzz-signed', { secret: SECRET });
});
afterAll(async () => {
  await open?.stop();
  await signed?.stop();
});

const VALID = {
  service: 'profiles',
  version: '1.2.0',
  instance: 'x',
  key: 'GET /profiles/{id}',
  timeoutMs: 2000,
  request: { id: 'r-1', method: 'GET', path: '/profiles/7', headers: {}, userId: 'u1' },
};

/** The valid envelope with one field (at any depth) replaced by anything, or removed. */
const mutated = fc
  .tuple(
    fc.constantFrom(
      'service',
      'version',
      'instance',
      'key',
      'timeoutMs',
      'search',
      'request',
      'request.id',
      'request.method',
      'request.path',
      'request.headers',
      'request.userId',
      'request.context',
      'request.body',
    ),
    fc.option(fc.anything(), { nil: undefined }),
  )
  .map(([field, value]) => {
    const copy = structuredClone(VALID) as Record<string, unknown>;
    const [a, b] = field.split('.') as [string, string | undefined];
    const holder = (b === undefined ? copy : copy[a]) as Record<string, unknown>;
    holder[b ?? a] = value;
    return JSON.stringify(copy) ?? '';
  });

const body = fc.oneof(
  { weight: 4, arbitrary: mutated },
  fc.constant(JSON.stringify(VALID)),
  fc.json(),
  fc.string({ maxLength: 300 }),
  fc.anything().map((v) => {
    try {
      return JSON.stringify(v) ?? '';
    } catch {
      return '';
    }
  }),
);
const headers = fc.oneof(
  { weight: 3, arbitrary: fc.constant('valid' as const) },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom(
        'content-type',
        'x-veza-node',
        'x-veza-timestamp',
        'x-veza-signature',
        'x-veza-nonce',
        'x-other',
      ),
      fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      ),
    ),
  },
);
const address = fc.constantFrom(
  '127.0.0.1',
  '10.1.2.3',
  '8.8.8.8',
  '::1',
  '::ffff:127.0.0.1',
  undefined,
);

function checkReply(reply: { statusCode: number; headers: Record<string, string>; body: string }) {
  expect(typeof reply.body).toBe('string');
  const parsed = JSON.parse(reply.body) as Record<string, unknown>;
  if (reply.statusCode === 200) {
    expect(reply.headers['content-type']).toBe(PEER_CONTENT_TYPE);
    const response = parsed.response as { statusCode: number };
    expect(Number.isInteger(response.statusCode)).toBe(true);
    return response.statusCode;
  }
  expect(reply.statusCode).toBeGreaterThanOrEqual(400);
  expect(reply.statusCode).toBeLessThan(500);
  expect(parsed).toMatchObject({ error: { code: expect.stringMatching(/^PGW_ERR_/) } });
  return reply.statusCode;
}

describe('fuzz: the peer protocol (fleet/peer-server.ts)', () => {
  it('an unsigned member: any envelope, headers and address → 4xx or a 200 with a well-formed answer', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(body, headers, address, async (b, h, a) => {
        const reply = await open.handlePeer(
          b,
          h === 'valid' ? peerHeaders('fuzzer', 'fuzz-open', b, undefined) : h,
          a,
        );
        const kind = `${reply.statusCode}${reply.statusCode === 200 ? `/${checkReply(reply)}` : ''}`;
        checkReply(reply);
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
      }),
      fuzzSettings('peer protocol (unsigned member)', 400),
    );
    console.log(`[fuzz] peer protocol outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    // A correct call is still served correctly.
    const reply = await open.handlePeer(
      JSON.stringify(VALID),
      peerHeaders('fuzzer', 'fuzz-open', JSON.stringify(VALID), undefined),
      '127.0.0.1',
    );
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ response: { statusCode: 200 } });
  });

  it('a member with a secret: anything unsigned or wrongly signed → 401, and a signed fuzzed envelope → 4xx or a well-formed answer', async () => {
    await fc.assert(
      fc.asyncProperty(body, headers, address, async (b, h, a) => {
        const reply = await signed.handlePeer(
          b,
          h === 'valid' ? peerHeaders('fuzzer', 'fuzz-signed', b, undefined) : h,
          a,
        );
        expect(reply.statusCode).toBe(401);
        checkReply(reply);
      }),
      fuzzSettings('peer protocol (secret, unsigned)', 200),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const reply = await signed.handlePeer(
          b,
          peerHeaders('fuzzer', 'fuzz-signed', b, SECRET),
          '8.8.8.8',
        );
        checkReply(reply);
      }),
      fuzzSettings('peer protocol (secret, signed)', 200),
    );
  });
});
