import { describe, expect, it } from 'vitest';
import { nearestKey, unknownKeyMessage } from './did-you-mean.js';

describe('did you mean', () => {
  const keys = ['listen', 'plugins', 'registry', 'gateway'];
  it('finds the key a typo meant: a letter left out, doubled, swapped or in another case', () => {
    expect(nearestKey('lisen', keys)).toBe('listen');
    expect(nearestKey('pluggins', keys)).toBe('plugins');
    expect(nearestKey('regsitry', keys)).toBe('registry');
    expect(nearestKey('Gateway', keys)).toBe('gateway');
  });
  it('suggests nothing for another word, and lists the keys instead', () => {
    expect(nearestKey('colour', keys)).toBeUndefined();
    expect(nearestKey('x'.repeat(10_000), keys)).toBeUndefined();
    expect(unknownKeyMessage('colour', keys)).toBe(
      'unknown key "colour" (known: listen, plugins, registry, gateway)',
    );
  });
});
