// The authentication of peer calls (docs/peer-protocol.md), header by header, at each edge, through
// `gateway.handlePeer()`: which calls a member without a secret takes (loopback and private addresses
// only), and the exact formats, clock window and signature a member with a secret demands. An accepted
// call here names a plugin nobody serves: the answer is a 200 carrying PGW_ERR_PEER_UNREACHABLE.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { PEER_CONTENT_TYPE, peerHeaders, sign } from '../../src/fleet/peer-protocol.js';

const SECRET = 'peer-headers-secret-0123456789';
let open: PluginGateway;
let signed: PluginGateway;

beforeAll(async () => {
  open = new PluginGateway({
    logger: false,
    node: { id: 'gw-open', address: 'http://127.0.0.1:9', insecure: 'private-network' },
  });
  signed = new PluginGateway({
    logger: false,
    node: { id: 'gw-signed', address: 'http://127.0.0.1:9', secret: SECRET },
  });
  await open.start();
  await signed.start();
});
afterAll(async () => {
  await open?.stop();
  await signed?.stop();
});
afterEach(() => vi.useRealTimers());

const BODY = JSON.stringify({
  service: 'nobody',
  version: '1.0.0',
  instance: 'x',
  key: 'GET /x',
  timeoutMs: 1000,
  request: { id: 'r-1', method: 'GET', path: '/x', headers: {} },
});

/** The reply's status and, for a refusal, its message. */
async function outcome(
  gateway: PluginGateway,
  headers: Record<string, string | string[] | undefined>,
  /** `null`: the listener knows no address. */
  address: string | null = '127.0.0.1',
  body = BODY,
): Promise<{ status: number; message?: string }> {
  const reply = await gateway.handlePeer(body, headers, address ?? undefined);
  const parsed = JSON.parse(reply.body) as { error?: { code: string; message: string } };
  if (reply.statusCode === 200) {
    expect(reply.headers['content-type']).toBe('application/vnd.veza.peer.v1+json');
    return { status: 200 };
  }
  return { status: reply.statusCode, message: parsed.error?.message };
}

let counter = 0;
/** Headers of a call to gw-signed, signed with `SECRET`, with the fields given replaced. */
function signedBy(
  fields: { node?: string; timestamp?: string; nonce?: string } = {},
  body = BODY,
): Record<string, string> {
  const node = fields.node ?? 'gw-caller';
  const timestamp = fields.timestamp ?? String(Date.now());
  const nonce = fields.nonce ?? `nonce-${++counter}-abcdef`;
  return {
    'content-type': PEER_CONTENT_TYPE,
    'x-veza-node': node,
    'x-veza-timestamp': timestamp,
    'x-veza-nonce': nonce,
    'x-veza-signature': sign(SECRET, timestamp, node, 'gw-signed', nonce, body),
  };
}

const unsigned = (fields: Record<string, string | string[]> = {}) => ({
  ...peerHeaders('gw-caller', 'gw-open', BODY, undefined),
  ...fields,
});

describe('a member without a secret (node.insecure: private-network)', () => {
  it('accepts unsigned calls from loopback and private addresses, of every private range', async () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.254',
      '192.168.0.1',
      '192.168.255.1',
      '169.254.1.1',
      '::1',
      'fc00::1',
      'fdff::1',
      'fe80::1',
      'fe80::ffff:a00:1',
      '::ffff:10.1.2.3',
      '::ffff:127.0.0.1',
    ]) {
      expect(await outcome(open, unsigned(), address), address).toEqual({ status: 200 });
    }
  });

  it('refuses them from any other address, or none, and says what to set', async () => {
    for (const address of [
      '8.8.8.8',
      '11.0.0.1',
      '9.255.255.255',
      '126.255.255.255',
      '172.15.255.255',
      '172.32.0.1',
      '192.167.255.255',
      '192.169.0.1',
      '169.253.255.255',
      '169.255.0.1',
      '::2',
      'fbff::1',
      'fe00::1',
      'fec0::1',
      '2001:db8::1',
      '::ffff:8.8.8.8',
      'not an address',
    ]) {
      expect(await outcome(open, unsigned(), address), address).toEqual({
        status: 401,
        message: `peer calls from ${address} need a signature: set node.secret on every gateway of the fleet`,
      });
    }
    expect(await outcome(open, unsigned(), null)).toEqual({
      status: 401,
      message:
        'peer calls from an unknown address need a signature: set node.secret on every gateway of the fleet',
    });
  });

  it('still demands a well-formed node id and timestamp', async () => {
    const nodeRule = 'x-veza-node must be a node id (letters, digits, ".", "_", "-")';
    const timeRule = 'x-veza-timestamp must be epoch milliseconds in decimal digits';
    for (const node of ['', '.gw', 'gw one', 'gw/1', `g${'w'.repeat(128)}`]) {
      expect(await outcome(open, unsigned({ 'x-veza-node': node })), node).toEqual({
        status: 401,
        message: nodeRule,
      });
    }
    expect(await outcome(open, unsigned({ 'x-veza-node': ['gw-caller'] }))).toEqual({
      status: 401,
      message: nodeRule,
    });
    expect(await outcome(open, unsigned({ 'x-veza-node': `g${'w'.repeat(127)}` }))).toEqual({
      status: 200,
    });
    for (const timestamp of ['', 'soon', '-1', '1e12', '1'.repeat(16)]) {
      expect(await outcome(open, unsigned({ 'x-veza-timestamp': timestamp })), timestamp).toEqual({
        status: 401,
        message: timeRule,
      });
    }
    expect(await outcome(open, unsigned({ 'x-veza-timestamp': ['1'] }))).toEqual({
      status: 401,
      message: timeRule,
    });
  });
});

describe('a member with a secret', () => {
  it('accepts a correctly signed call from any address, once', async () => {
    const headers = signedBy();
    expect(await outcome(signed, headers, '8.8.8.8')).toEqual({ status: 200 });
    expect(await outcome(signed, headers, '8.8.8.8')).toEqual({
      status: 401,
      message: 'this call was already received (replay)',
    });
    const mine = peerHeaders('gw-caller', 'gw-signed', BODY, SECRET);
    expect(mine['content-type']).toBe('application/vnd.veza.peer.v1+json');
    expect(await outcome(signed, mine, null)).toEqual({ status: 200 });
  });

  it('demands a nonce of 8 to 64 letters, digits, "_" or "-", signed with the rest', async () => {
    const rule = 'x-veza-nonce must be 8 to 64 letters, digits, "_" or "-"';
    for (const nonce of ['abcdefg', 'n'.repeat(65), 'nonce one', 'nonce.123']) {
      expect(await outcome(signed, signedBy({ nonce })), nonce).toEqual({
        status: 401,
        message: rule,
      });
    }
    for (const nonce of ['abcdefgh', 'n'.repeat(64), 'A-b_9-zz']) {
      expect(await outcome(signed, signedBy({ nonce })), nonce).toEqual({ status: 200 });
    }
    // A call without a nonce, signed as if it were the text "undefined".
    const headers: Record<string, string | string[]> = signedBy({ nonce: 'undefined' });
    delete headers['x-veza-nonce'];
    expect(await outcome(signed, headers)).toEqual({ status: 401, message: rule });
    const listed = signedBy({ nonce: 'listed-nonce' });
    expect(await outcome(signed, { ...listed, 'x-veza-nonce': [listed['x-veza-nonce']!] })).toEqual(
      { status: 401, message: rule },
    );
  });

  it('demands the node id and timestamp formats of a signed call too', async () => {
    expect(await outcome(signed, signedBy({ node: 'gw caller' }))).toMatchObject({ status: 401 });
    const listed = signedBy();
    expect(await outcome(signed, { ...listed, 'x-veza-node': [listed['x-veza-node']!] })).toEqual({
      status: 401,
      message: 'x-veza-node must be a node id (letters, digits, ".", "_", "-")',
    });
  });

  it('refuses a signature given as a list, naming its format', async () => {
    const headers = signedBy();
    expect(
      await outcome(signed, { ...headers, 'x-veza-signature': [headers['x-veza-signature']!] }),
    ).toEqual({ status: 401, message: 'x-veza-signature must be 64 lower-case hex characters' });
    expect(
      await outcome(signed, {
        ...headers,
        'x-veza-signature': headers['x-veza-signature']!.toUpperCase(),
      }),
    ).toEqual({ status: 401, message: 'x-veza-signature must be 64 lower-case hex characters' });
  });

  it('takes a timestamp up to 30 s from its clock either way, not one millisecond more', async () => {
    const now = Date.parse('2026-12-05T01:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'], now });
    const at = (ms: number) => signedBy({ timestamp: String(ms) });
    const stale = "x-veza-timestamp is more than 30s away from this gateway's clock";
    expect(await outcome(signed, at(now - 30_000))).toEqual({ status: 200 });
    expect(await outcome(signed, at(now + 30_000))).toEqual({ status: 200 });
    expect(await outcome(signed, at(now - 30_001))).toEqual({ status: 401, message: stale });
    expect(await outcome(signed, at(now + 30_001))).toEqual({ status: 401, message: stale });
  });

  it('refuses a signature made with another secret, for another receiver or over another body', async () => {
    const wrong = 'the signature does not match (different node.secret?)';
    const other = peerHeaders('gw-caller', 'gw-signed', BODY, 'another-secret-0123456789');
    expect(await outcome(signed, other)).toEqual({ status: 401, message: wrong });
    const elsewhere = peerHeaders('gw-caller', 'gw-other', BODY, SECRET);
    expect(await outcome(signed, elsewhere)).toEqual({ status: 401, message: wrong });
    const headers = signedBy();
    expect(await outcome(signed, headers, '127.0.0.1', BODY.replace('r-1', 'r-2'))).toEqual({
      status: 401,
      message: wrong,
    });
  });
});
