/**
 * The codes of every error the gateway throws or answers with, the base class `GatewayError`, and how
 * the typed classes of `errors.ts` are made (a brand per code, so that `instanceof`-like guards hold
 * across copies of the library).
 * @module
 */

/** Every code the gateway uses, thrown or written into an error response body. */
export const ErrorCodes = {
  INVALID_ARGUMENT: 'PGW_ERR_INVALID_ARGUMENT',
  MANIFEST_INVALID: 'PGW_ERR_MANIFEST_INVALID',
  PLUGIN_LOAD: 'PGW_ERR_PLUGIN_LOAD',
  PLUGIN_EXISTS: 'PGW_ERR_PLUGIN_EXISTS',
  PLUGIN_NOT_FOUND: 'PGW_ERR_PLUGIN_NOT_FOUND',
  MAX_PLUGINS: 'PGW_ERR_MAX_PLUGINS',
  ROUTE_CONFLICT: 'PGW_ERR_ROUTE_CONFLICT',
  RUNTIME_UNSUPPORTED: 'PGW_ERR_RUNTIME_UNSUPPORTED',
  GATEWAY_STOPPED: 'PGW_ERR_GATEWAY_STOPPED',
  EVENT_NOT_PERMITTED: 'PGW_ERR_EVENT_NOT_PERMITTED',
  REGISTRY: 'PGW_ERR_REGISTRY',
  ARTIFACT_TOO_LARGE: 'PGW_ERR_ARTIFACT_TOO_LARGE',
  CATALOG_INVALID: 'PGW_ERR_CATALOG_INVALID',
  PLUGIN_BOOT_TIMEOUT: 'PGW_ERR_PLUGIN_BOOT_TIMEOUT',
  PLUGIN_DEFINITION: 'PGW_ERR_PLUGIN_DEFINITION',
  RATE_LIMIT_STORE_UNAVAILABLE: 'PGW_ERR_RATE_LIMIT_STORE_UNAVAILABLE',
  // Answered in response bodies by handle() and the adapters:
  BAD_REQUEST: 'PGW_ERR_BAD_REQUEST',
  BODY_TOO_LARGE: 'PGW_ERR_BODY_TOO_LARGE',
  GATEWAY_ERROR: 'PGW_ERR_GATEWAY_ERROR',
  NOT_FOUND: 'PGW_ERR_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'PGW_ERR_METHOD_NOT_ALLOWED',
  UNAUTHORIZED: 'PGW_ERR_UNAUTHORIZED',
  FORBIDDEN: 'PGW_ERR_FORBIDDEN',
  PLUGIN_UNAVAILABLE: 'PGW_ERR_PLUGIN_UNAVAILABLE',
  CIRCUIT_OPEN: 'PGW_ERR_CIRCUIT_OPEN',
  RATE_LIMITED: 'PGW_ERR_RATE_LIMITED',
  BULKHEAD_FULL: 'PGW_ERR_BULKHEAD_FULL',
  OVERLOADED: 'PGW_ERR_OVERLOADED',
  TIMEOUT: 'PGW_ERR_TIMEOUT',
  PLUGIN_ERROR: 'PGW_ERR_PLUGIN_ERROR',
  PLUGIN_CRASHED: 'PGW_ERR_PLUGIN_CRASHED',
  BAD_RESPONSE: 'PGW_ERR_BAD_RESPONSE',
  CALL_NOT_PERMITTED: 'PGW_ERR_CALL_NOT_PERMITTED',
  PEER_UNAUTHORIZED: 'PGW_ERR_PEER_UNAUTHORIZED',
  PEER_UNREACHABLE: 'PGW_ERR_PEER_UNREACHABLE',
  RESPONSE_TOO_LARGE: 'PGW_ERR_RESPONSE_TOO_LARGE',
  ARTIFACT_SIGNATURE: 'PGW_ERR_ARTIFACT_SIGNATURE',
  SANDBOX_UNAVAILABLE: 'PGW_ERR_SANDBOX_UNAVAILABLE',
  WASM_MODULE: 'PGW_ERR_WASM_MODULE',
  WASM_IMPORT_REFUSED: 'PGW_ERR_WASM_IMPORT_REFUSED',
  UNTRUSTED_RUNTIME: 'PGW_ERR_UNTRUSTED_RUNTIME',
  UNSUPPORTED_MEDIA_TYPE: 'PGW_ERR_UNSUPPORTED_MEDIA_TYPE',
  FLAG_NOT_DECLARED: 'PGW_ERR_FLAG_NOT_DECLARED',
  EVENT_BROKER_UNAVAILABLE: 'PGW_ERR_EVENT_BROKER_UNAVAILABLE',
  FAULT_INJECTED: 'PGW_ERR_FAULT_INJECTED',
  PLUGIN_DISABLED: 'PGW_ERR_PLUGIN_DISABLED',
  PATH_NOT_ALLOWED: 'PGW_ERR_PATH_NOT_ALLOWED',
  SWAP_FAILED: 'PGW_ERR_SWAP_FAILED',
  PLUGIN_CONTENT_CHANGED: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
  VERSION_NOT_FOUND: 'PGW_ERR_VERSION_NOT_FOUND',
  PLUGIN_CODE: 'PGW_ERR_PLUGIN_CODE',
  TYPESCRIPT_UNAVAILABLE: 'PGW_ERR_TYPESCRIPT_UNAVAILABLE',
  PLUGIN_LIMIT: 'PGW_ERR_PLUGIN_LIMIT',
} as const;

/** One of the `PGW_ERR_*` codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The brand every gateway error carries (a `Symbol.for` key, the same in every copy of the library). */
export const kGatewayError: unique symbol = Symbol.for('plugin-gateway.error');

/** Base class of every error plugin-gateway throws. */
export class GatewayError extends Error {
  /** Stable code, e.g. `PGW_ERR_MANIFEST_INVALID`. */
  readonly code: ErrorCode;
  /** The plugin this error is about, when there is one. */
  readonly plugin: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; plugin?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.plugin = options?.plugin;
  }

  /**
   * The brand every plugin-gateway error carries (a `Symbol.for` key), for `instanceof` across copies.
   */
  get [kGatewayError](): true {
    return true;
  }

  /**
   * `instanceof` by brand rather than by prototype, so that it holds for errors from another copy of
   * the package (host and SDK loaded twice).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === GatewayError) {
      return typeof value === 'object' && value !== null && kGatewayError in value;
    }
    return brandOf(this) !== undefined && hasBrand(value, brandOf(this)!);
  }
}

function brandOf(cls: object): symbol | undefined {
  return (cls as { brand?: symbol }).brand;
}

function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && brand in value;
}

/** Declares a branded subclass: `instanceof` holds across duplicated package copies. */
export function branded(code: ErrorCode, name: string) {
  const brand = Symbol.for(`plugin-gateway.error.${code}`);
  return class extends GatewayError {
    /**
     * This class's brand, `Symbol.for('plugin-gateway.error.<code>')`, carried by its instances.
     */
    static readonly brand = brand;
    constructor(message: string, options?: { cause?: unknown; plugin?: string }) {
      super(code, message, options);
      this.name = name;
      Object.defineProperty(this, brand, { value: true });
    }
  };
}

/** A type guard for `cls` that holds across copies of the library (by brand, not by prototype). */
export function guard<T>(cls: abstract new (...args: never[]) => T): (e: unknown) => e is T {
  return (e: unknown): e is T => e instanceof cls;
}
