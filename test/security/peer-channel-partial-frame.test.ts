// The owner's "a frame begun must end within node.openTimeout" bound measures the frame in progress: a
// caller whose reads never end on a frame boundary (a busy channel) is not cut while each frame ends
// fast, and a frame that never ends is still cut (test/security/peer-channel.test.ts).
import { expect, it } from 'vitest';
import { CHANNEL_CALL } from '../../src/fleet/peer-channel-frames.js';
import { channelOwners, profilesCall as call } from '../peer-channel-setup.js';

const { owner, channel } = channelOwners();

it('a busy channel whose every read ends mid-frame is not cut while each frame ends fast; a frame that never ends is', async () => {
  const node = await owner('1s');
  const { socket, writer, answers } = await channel(node);
  socket.setNoDelay(true);
  let closedAt = 0;
  socket.on('close', () => (closedAt = Date.now()));
  const started = Date.now();
  // Every 150 ms: the rest of the previous frame and the first half of the next (each frame is whole
  // within 150 ms; the reads never end on a frame boundary) — for 2.5 s, openTimeout being 1 s.
  const pending = writer.frame(CHANNEL_CALL, 1, call());
  socket.write(pending.subarray(0, 20));
  let rest = pending.subarray(20);
  for (let id = 2; id <= 17; id++) {
    await new Promise((r) => setTimeout(r, 150));
    if (socket.destroyed) break;
    const next = writer.frame(CHANNEL_CALL, id, call());
    socket.write(Buffer.concat([rest, next.subarray(0, 20)]));
    rest = next.subarray(20);
  }
  if (!socket.destroyed) socket.write(rest);
  await new Promise((r) => setTimeout(r, 300));
  expect(closedAt === 0 ? 'open' : `cut after ${closedAt - started} ms`).toBe('open');
  expect(answers.size).toBe(17);
  // The next frame begun and never ended is still cut, however busy the channel was before it.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(writer.frame(CHANNEL_CALL, 18, call()).subarray(0, 20));
  await closed;
  expect(answers.size).toBe(17);
}, 20_000);
