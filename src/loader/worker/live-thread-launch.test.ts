import { describe, expect, it } from 'vitest';
import { liveThreadLimits, STREAMING_YOUNG_GENERATION_MB } from './live-thread-launch.js';
import { threadLimits } from './plugin-pool.js';

describe('liveThreadLimits', () => {
  it('caps the young generation of a plugin that streams bodies, and only its', () => {
    expect(liveThreadLimits(256, true)).toEqual({
      ...threadLimits(256),
      maxYoungGenerationSizeMb: STREAMING_YOUNG_GENERATION_MB,
    });
    expect(liveThreadLimits(256, false)).toEqual(threadLimits(256));
    // A plugin whose own limit is smaller keeps it.
    expect(liveThreadLimits(16, true).maxYoungGenerationSizeMb).toBe(2);
  });
});
