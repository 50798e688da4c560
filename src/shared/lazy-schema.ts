/**
 * `lazySchema(build)`: a schema that is built at its first use rather than when its module loads.
 * Building the gateway's zod schemas was half of what evaluating its own code cost when the main
 * entry is imported (issue 24: import ≤ 100 ms); a host pays for them with the first option or
 * manifest it validates. The value stands in for the schema everywhere (methods, `_zod`, `instanceof`,
 * nesting in other schemas), so a module's schemas keep their names, types and call sites.
 * @module
 */

/** `build()`'s schema, made on the first property read. */
export function lazySchema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = (): T => (built ??= build());
  return new Proxy({} as T, {
    get(_, key) {
      const target = schema();
      const value: unknown = Reflect.get(target, key, target);
      // zod's methods read `this`: called on the stand-in, they must see the schema itself.
      return typeof value === 'function' ? value.bind(target) : value;
    },
    has: (_, key) => Reflect.has(schema(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
    ownKeys: () => Reflect.ownKeys(schema()),
    getOwnPropertyDescriptor(_, key) {
      const found = Reflect.getOwnPropertyDescriptor(schema(), key);
      // A proxy may not report a property its (empty) target lacks as non-configurable.
      return found && { ...found, configurable: true };
    },
  });
}
