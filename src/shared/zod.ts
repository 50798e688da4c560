/**
 * zod, required when the first schema is built rather than when the gateway is imported: loading it
 * was half of what importing the main entry cost (issue 24: import ≤ 100 ms), and every schema of the
 * main entry is built at its first use (`lazy-schema.ts`). Synchronously (`require`), since option
 * and manifest checks are synchronous. Every module of the package takes zod from here, so that one
 * instance (its CommonJS build) makes and checks all the package's schemas.
 * @module
 */
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';

let loaded: typeof Zod | undefined;
const lib = (): typeof Zod =>
  (loaded ??= (createRequire(import.meta.url)('zod') as { z: typeof Zod }).z);

/** The `z` of zod, loaded at its first use. */
export const z: typeof Zod = new Proxy({} as typeof Zod, {
  get: (_, key) => Reflect.get(lib(), key) as unknown,
});

/* eslint-disable @typescript-eslint/no-namespace -- `z.infer<T>` and its kin, as zod spells them */
/** The types of zod's `z` this package names (a namespace of types only: no value of its own). */
export declare namespace z {
  export type ZodType<Output = unknown, Input = unknown> = Zod.ZodType<Output, Input>;
  export type ZodError<T = unknown> = Zod.ZodError<T>;
  export type infer<T> = Zod.infer<T>;
  export type input<T> = Zod.input<T>;
  export type output<T> = Zod.output<T>;
  export namespace core {
    export type $ZodIssue = Zod.core.$ZodIssue;
  }
}
/* eslint-enable @typescript-eslint/no-namespace */
