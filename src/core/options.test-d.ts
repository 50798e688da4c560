/**
 * Ties the documented `GatewayOptions` interface to the zod schema that validates it: an option added to
 * one and not the other, or typed differently, fails `npm run test:types`.
 */
import type { z } from 'zod';
import type { GatewayOptions, optionsSchema } from './options.js';

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Keys<T> = keyof T & string;

/** Every documented option is accepted by the schema, and every schema key is documented. */
export const sameKeys: Equal<Keys<GatewayOptions>, Keys<z.input<typeof optionsSchema>>> = true;
/** An options object the interface accepts is one the schema's input type accepts, and back. */
export const interfaceFitsSchema = (o: GatewayOptions): z.input<typeof optionsSchema> => o;
export const schemaFitsInterface = (o: z.input<typeof optionsSchema>): GatewayOptions => o;
