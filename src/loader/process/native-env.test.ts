import { describe, expect, it } from 'vitest';
import { nativeEnv } from './process-launch.js';

describe('nativeEnv', () => {
  it('gives Go as many processors as resources.cpu, rounded up, at least one', () => {
    expect(nativeEnv({ cpuCores: 0.25 })).toEqual({ GOMAXPROCS: '1' });
    expect(nativeEnv({ cpuCores: 1 })).toEqual({ GOMAXPROCS: '1' });
    expect(nativeEnv({ cpuCores: 1.5 })).toEqual({ GOMAXPROCS: '2' });
    expect(nativeEnv({ cpuCores: 64 })).toEqual({ GOMAXPROCS: '64' });
  });
});
