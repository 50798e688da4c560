// Batches on a peer channel (veza-peer/3, decision 0325): the calls written in one turn share one tag.
// A stranger on the path who holds no key cannot split a batch, merge the frames of two calls into one
// batch, forge a frame into one, or cut one short: the owner closes the channel, and no call of the
// batch reaches the plugin. A gateway of the previous version (veza-peer/2) is refused, never upgraded.
import { describe, expect, it } from 'vitest';
import {
  CHANNEL_CALL,
  CHANNEL_HEADER_BYTES,
  CHANNEL_MAX_BATCH_BYTES,
  CHANNEL_MORE,
  FROM_CALLER,
  FrameWriter,
  channelKey,
} from '../../src/fleet/peer-channel-frames.js';
import type { FleetNode } from '../fleet-node.js';
import {
  CHANNEL_SECRET as SECRET,
  channelOpenHeaders,
  channelOwners,
  profilesFrame as call,
} from '../peer-channel-setup.js';
import { until } from '../registry/contract.js';

const { owner: ownerWith, open, channel } = channelOwners();
const owner = () => ownerWith('1s');

/** Requests the owner's plugin has been handed. */
const served = (node: FleetNode) => node.gateway.metrics('profiles').request_count;

/** Where each frame of `bytes` starts. */
function starts(bytes: Buffer): number[] {
  const at: number[] = [];
  for (let i = 0; i < bytes.length; i += CHANNEL_HEADER_BYTES + bytes.readUInt32BE(i + 5))
    at.push(i);
  return at;
}

describe('batches on a peer channel', () => {
  it('a batch of calls written at once is served whole, each answer to its own call', async () => {
    const node = await owner();
    const ch = await channel(node);
    ch.socket.write(ch.writer.frames(CHANNEL_CALL, [call(1), call(2), call(3)]));
    await until(async () => ch.answers.size === 3, 'three answers');
    for (const id of [1, 2, 3]) {
      expect(JSON.parse(ch.answers.get(id)!)).toMatchObject({
        response: { statusCode: 200, body: { json: { id: String(id) } } },
      });
    }
  });

  it('a batch split in two (its first frame passed off as a batch of its own) is refused whole', async () => {
    const node = await owner();
    const before = served(node);
    const ch = await channel(node);
    const bytes = ch.writer.frames(CHANNEL_CALL, [call(1), call(2)]);
    bytes[0] = CHANNEL_CALL;
    ch.socket.write(bytes);
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    expect(served(node)).toBe(before);
  });

  it('the frames of two calls sent apart, merged into one batch by a stranger, are refused', async () => {
    const node = await owner();
    const before = served(node);
    const ch = await channel(node);
    const first = ch.writer.frame(CHANNEL_CALL, 1, call(1).payload);
    const second = ch.writer.frame(CHANNEL_CALL, 2, call(2).payload);
    // The first frame says the batch goes on, its tag zeroed: the second's tag now covers both.
    first[0] = CHANNEL_CALL | CHANNEL_MORE;
    first.fill(0, 9, CHANNEL_HEADER_BYTES);
    ch.socket.write(Buffer.concat([first, second]));
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    expect(served(node)).toBe(before);
  });

  it('a frame forged into a genuine batch, or put in place of one of its frames, is refused', async () => {
    const node = await owner();
    const before = served(node);
    const forged = new FrameWriter(channelKey(SECRET, 'f'.repeat(64)), FROM_CALLER);
    // Prepended to a genuine one-call batch.
    const a = await channel(node);
    const head = forged.frames(CHANNEL_CALL, [call(9), call(1)]);
    const stranger = head.subarray(0, starts(head)[1]!);
    a.socket.write(Buffer.concat([stranger, a.writer.frame(CHANNEL_CALL, 1, call(1).payload)]));
    await a.closed;
    expect(a.answers.size).toBe(0);
    // The second frame of a genuine batch swapped for a stranger's of the same size.
    const b = await channel(node);
    const genuine = b.writer.frames(CHANNEL_CALL, [call(1), call(2)]);
    const other = forged.frames(CHANNEL_CALL, [call(1), call(3)]);
    const at = starts(genuine)[1]!;
    b.socket.write(Buffer.concat([genuine.subarray(0, at), other.subarray(starts(other)[1]!)]));
    await b.closed;
    expect(b.answers.size).toBe(0);
    expect(served(node)).toBe(before);
  });

  it('a genuine batch read together with a forged one behind it: neither reaches the plugin', async () => {
    const node = await owner();
    const before = served(node);
    const ch = await channel(node);
    const genuine = ch.writer.frames(CHANNEL_CALL, [call(1), call(2)]);
    const forged = new FrameWriter(channelKey(SECRET, 'f'.repeat(64)), FROM_CALLER);
    // One write, so one read: the calls of the genuine batch are held until the read is parsed whole.
    ch.socket.write(Buffer.concat([genuine, forged.frames(CHANNEL_CALL, [call(3)])]));
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    expect(served(node)).toBe(before);
  });

  it('a batch whose end never comes is cut at node.openTimeout, none of its calls served', async () => {
    const node = await owner();
    const before = served(node);
    const ch = await channel(node);
    const bytes = ch.writer.frames(CHANNEL_CALL, [call(1), call(2), call(3)]);
    ch.socket.write(bytes.subarray(0, starts(bytes)[2]!));
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    expect(served(node)).toBe(before);
  });

  it('a batch announced past 1 MiB is refused at the header that passes it, unread', async () => {
    const node = await owner();
    const ch = await channel(node);
    const header = Buffer.alloc(CHANNEL_HEADER_BYTES);
    header[0] = CHANNEL_CALL | CHANNEL_MORE;
    header.writeUInt32BE(1, 1);
    header.writeUInt32BE(CHANNEL_MAX_BATCH_BYTES, 5);
    ch.socket.write(header);
    await ch.closed;
    // The owner is still up and serving on a fresh channel.
    const fresh = await channel(node);
    fresh.socket.write(fresh.writer.frame(CHANNEL_CALL, 1, call(1).payload));
    await until(async () => fresh.answers.has(1), 'an answer on a fresh channel');
  });

  it('a caller of the previous version (veza-peer/2) is refused, never upgraded', async () => {
    const node = await owner();
    const old = await open(node, channelOpenHeaders(SECRET, 'veza-peer/2 channel'), 'veza-peer/2');
    expect(old.status).toBe(400);
    expect(old.socket).toBeUndefined();
  });
});
