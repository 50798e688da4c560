/**
 * The harness's bound on the channel's byte garbage. Every socket read and every frame read or written
 * is a buffer outside V8's heap, behind a wrapper of a few hundred bytes; one that lived through two
 * scavenges (its request waited for the CPU) is promoted, and freed only by a full collection, which
 * V8 starts on its own after about 64 MiB of such memory. Node 24 now and then held 20–30 MiB of them
 * (docs/decisions/0366-process-harness-collects-channel-garbage.md). The harness looks at the buffers'
 * total every `LOOK_EVERY_BYTES` of channel traffic and runs a full collection once the total is
 * `COLLECT_OVER_BYTES` over its lowest since the last one.
 * @module
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Channel bytes between two looks at the buffers' total. */
export const LOOK_EVERY_BYTES = 4 * 1024 * 1024;
/** Buffer memory over its level (its lowest since the last collection) past which the harness collects. */
export const COLLECT_OVER_BYTES = 16 * 1024 * 1024;

/**
 * A counter of channel bytes that collects when the buffers pass their bound. Made before the
 * plugin's code runs: `gc` is read from a context of the harness's own while the flag that exposes it
 * is on, and the flag is turned off again, so no context the plugin makes has it; `memoryUsage` is
 * taken before the plugin could replace it.
 */
export function channelGarbage(): (bytes: number) => void {
  const memoryUsage = process.memoryUsage.bind(process);
  v8.setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  v8.setFlagsFromString('--no-expose-gc');
  let through = 0;
  let level = memoryUsage().arrayBuffers;
  return (bytes) => {
    through += bytes;
    if (through < LOOK_EVERY_BYTES) return;
    through = 0;
    // Read right after a collection, the total may still hold buffers being freed in the background:
    // the level follows the total down at the next looks.
    const now = memoryUsage().arrayBuffers;
    if (now < level + COLLECT_OVER_BYTES) {
      level = Math.min(level, now);
      return;
    }
    collect();
    level = memoryUsage().arrayBuffers;
  };
}
