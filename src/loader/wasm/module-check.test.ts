import { describe, expect, it } from 'vitest';
import { checkModule } from './module-check.js';

/** A module with one funcref table of `min` elements and no maximum, exported as `t`. */
function tableWithoutMaximum(min: number): Uint8Array {
  const table = [1, 0x70, 0, min];
  const exportTable = [1, 1, 0x74, 1, 0];
  return Uint8Array.from([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...[4, table.length, ...table],
    ...[7, exportTable.length, ...exportTable],
  ]);
}

interface Engine {
  instantiate(bytes: Uint8Array): Promise<{
    instance: { exports: { t: { length: number; grow(n: number): number } } };
  }>;
}

const ceilings = { maxPages: 16, maxImports: 100, maxTableElements: 100 };

describe('checkModule and tables', () => {
  it('gives a table without a maximum its initial size as maximum: table.grow then fails', async () => {
    const checked = checkModule(tableWithoutMaximum(3), ceilings, 'm.wasm');
    // The DOM's WebAssembly types are not in this project's lib: the engine's, typed by hand.
    const engine = (globalThis as unknown as { WebAssembly: Engine }).WebAssembly;
    const { instance } = await engine.instantiate(checked.bytes);
    expect(instance.exports.t.length).toBe(3);
    expect(() => instance.exports.t.grow(1)).toThrow();
  });

  it('refuses a table without a maximum whose initial size is above the ceiling', () => {
    expect(() => checkModule(tableWithoutMaximum(101), ceilings, 'm.wasm')).toThrow(
      /up to 101 elements.*limits\.tableElements/,
    );
  });
});
