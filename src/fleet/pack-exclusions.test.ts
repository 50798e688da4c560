import { describe, expect, it } from 'vitest';
import { leftOutOfPack } from './pack-exclusions.js';

describe('leftOutOfPack', () => {
  it('leaves out earlier entries and tests, keeps the rest and always the entry file', () => {
    for (const file of [
      'hello-0.1.0.veza.json',
      'out/hello-0.2.0.veza.json',
      'hello.test.js',
      'lib/util.spec.ts',
      'test/fixture.json',
      '__tests__/a.js',
    ]) {
      expect(leftOutOfPack(file, 'index.js'), file).toBe(true);
    }
    for (const file of ['index.js', 'lib/testing.js', 'data/tests.json', 'README.md']) {
      expect(leftOutOfPack(file, 'index.js'), file).toBe(false);
    }
    expect(leftOutOfPack('main.test.js', 'main.test.js')).toBe(false);
  });
});
