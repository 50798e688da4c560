import { describe, expect, it } from 'vitest';
import { parseDuration, parseRate } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [250, 250],
  ])('%s is %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['', '30', 's', '-1s', '1d', 'soon'])('rejects %j', (input) =>
    expect(parseDuration(input)).toBeUndefined(),
  );
});

describe('parseRate', () => {
  it('reads n per second, minute or hour', () => {
    expect(parseRate('100/min')).toEqual({ limit: 100, windowMs: 60_000 });
    expect(parseRate('5/sec')).toEqual({ limit: 5, windowMs: 1000 });
    expect(parseRate('1000/hour')).toEqual({ limit: 1000, windowMs: 3_600_000 });
  });

  it.each(['0/min', '100/day', '100', 'ten/min', '-1/sec'])('rejects %j', (input) =>
    expect(parseRate(input)).toBeUndefined(),
  );
});
