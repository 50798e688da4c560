// The owner's thread hop for the calls of a peer channel (decision 0350): the calls that arrive in one
// read cross to the plugin's thread in one message, the first of them included; a call alone still goes
// at once, alone. Real gateway, real channel socket, real threads.
import { describe, expect, it } from 'vitest';
import { CHANNEL_CALL } from '../../src/fleet/peer-channel-frames.js';
import { channelOwners, profilesFrame as call } from '../peer-channel-setup.js';
import { until } from '../registry/contract.js';
import { taskMessages } from '../task-messages.js';

const { owner, channel } = channelOwners();

/** What the owner answered call `id`, parsed. */
const answerOf = (answers: Map<number, string>, id: number) => JSON.parse(answers.get(id)!);

describe("the owner's thread hop for a channel's calls", () => {
  it('the calls of one read cross to the thread in one message, the first included, each answered', async () => {
    const ch = await channel(await owner());
    // The thread is up: the first call of a fresh instance would be its own.
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 100, call(100).payload));
    await until(async () => ch.answers.has(100), 'a first answer');
    const ids = [1, 2, 3, 4, 5, 6];
    const { messages } = await taskMessages(async () => {
      ch.socket.write(ch.writer.frames(CHANNEL_CALL, ids.map(call)));
      await until(async () => ids.every((id) => ch.answers.has(id)), 'six answers');
    });
    expect(messages).toBe(1);
    for (const id of ids) {
      expect(answerOf(ch.answers, id)).toMatchObject({
        response: { statusCode: 200, body: { json: { id: String(id) } } },
      });
    }
  });

  it('a call alone in its read goes at once, one message each', async () => {
    const ch = await channel(await owner());
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 100, call(100).payload));
    await until(async () => ch.answers.has(100), 'a first answer');
    const { messages } = await taskMessages(async () => {
      for (const id of [1, 2, 3]) {
        ch.socket.write(ch.writer.frame(CHANNEL_CALL, id, call(id).payload));
        await until(async () => ch.answers.has(id), `answer ${id}`);
      }
    });
    expect(messages).toBe(3);
  });
});
