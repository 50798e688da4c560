/**
 * The codes of every error the gateway throws or answers with, the base class `GatewayError`, and how
 * the typed classes of `errors.ts` are made (a brand per code, so that `instanceof`-like guards hold
 * across copies of the library).
 * @module
 */

/** Every code the gateway uses, thrown or written into an error response body. */
export const ErrorCodes = {
  // Thrown by the gateway's API (classes in errors.ts):
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
  ARTIFACT_SIGNATURE: 'PGW_ERR_ARTIFACT_SIGNATURE',
  SANDBOX_UNAVAILABLE: 'PGW_ERR_SANDBOX_UNAVAILABLE',
  WASM_MODULE: 'PGW_ERR_WASM_MODULE',
  WASM_IMPORT_REFUSED: 'PGW_ERR_WASM_IMPORT_REFUSED',
  UNTRUSTED_RUNTIME: 'PGW_ERR_UNTRUSTED_RUNTIME',
  FLAG_NOT_DECLARED: 'PGW_ERR_FLAG_NOT_DECLARED',
  EVENT_BROKER_UNAVAILABLE: 'PGW_ERR_EVENT_BROKER_UNAVAILABLE',
  PATH_NOT_ALLOWED: 'PGW_ERR_PATH_NOT_ALLOWED',
  SWAP_FAILED: 'PGW_ERR_SWAP_FAILED',
  PLUGIN_CONTENT_CHANGED: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
  VERSION_NOT_FOUND: 'PGW_ERR_VERSION_NOT_FOUND',
  PLUGIN_CODE: 'PGW_ERR_PLUGIN_CODE',
  TYPESCRIPT_UNAVAILABLE: 'PGW_ERR_TYPESCRIPT_UNAVAILABLE',
  PLUGIN_LIMIT: 'PGW_ERR_PLUGIN_LIMIT',
  LIVE_UNSUPPORTED: 'PGW_ERR_LIVE_UNSUPPORTED',
  // Answered in response bodies by handle(), ctx.call(), peer calls and the adapters:
  BAD_REQUEST: 'PGW_ERR_BAD_REQUEST',
  BODY_TOO_LARGE: 'PGW_ERR_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'PGW_ERR_UNSUPPORTED_MEDIA_TYPE',
  GATEWAY_ERROR: 'PGW_ERR_GATEWAY_ERROR',
  NOT_FOUND: 'PGW_ERR_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'PGW_ERR_METHOD_NOT_ALLOWED',
  UNAUTHORIZED: 'PGW_ERR_UNAUTHORIZED',
  FORBIDDEN: 'PGW_ERR_FORBIDDEN',
  PLUGIN_UNAVAILABLE: 'PGW_ERR_PLUGIN_UNAVAILABLE',
  PLUGIN_DISABLED: 'PGW_ERR_PLUGIN_DISABLED',
  CIRCUIT_OPEN: 'PGW_ERR_CIRCUIT_OPEN',
  RATE_LIMITED: 'PGW_ERR_RATE_LIMITED',
  BULKHEAD_FULL: 'PGW_ERR_BULKHEAD_FULL',
  OVERLOADED: 'PGW_ERR_OVERLOADED',
  TIMEOUT: 'PGW_ERR_TIMEOUT',
  PLUGIN_ERROR: 'PGW_ERR_PLUGIN_ERROR',
  PLUGIN_CRASHED: 'PGW_ERR_PLUGIN_CRASHED',
  BAD_RESPONSE: 'PGW_ERR_BAD_RESPONSE',
  RESPONSE_TOO_LARGE: 'PGW_ERR_RESPONSE_TOO_LARGE',
  CALL_NOT_PERMITTED: 'PGW_ERR_CALL_NOT_PERMITTED',
  PEER_UNAUTHORIZED: 'PGW_ERR_PEER_UNAUTHORIZED',
  PEER_UNREACHABLE: 'PGW_ERR_PEER_UNREACHABLE',
  FAULT_INJECTED: 'PGW_ERR_FAULT_INJECTED',
  UPGRADE_REQUIRED: 'PGW_ERR_UPGRADE_REQUIRED',
  ORIGIN_NOT_ALLOWED: 'PGW_ERR_ORIGIN_NOT_ALLOWED',
  TOO_MANY_CONNECTIONS: 'PGW_ERR_TOO_MANY_CONNECTIONS',
  HEADERS_TOO_LARGE: 'PGW_ERR_HEADERS_TOO_LARGE',
  PEER_OPEN_TIMEOUT: 'PGW_ERR_PEER_OPEN_TIMEOUT',
} as const;

/** One of the `PGW_ERR_*` codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The HTTP status each code is answered with: by `handle()` and the adapters for the codes they answer,
 * by an HTTP API of the host's (the management API) for a thrown one. Typed by `ErrorCode`, so a code
 * added above without a status here does not compile; docs/errors.md's table is checked against it.
 */
export const ErrorStatus: Readonly<Record<ErrorCode, number>> = {
  // Thrown: the host's misuse, or a plugin, catalog or store it named that is wrong.
  [ErrorCodes.INVALID_ARGUMENT]: 400,
  [ErrorCodes.MANIFEST_INVALID]: 422,
  [ErrorCodes.PLUGIN_LOAD]: 422,
  [ErrorCodes.PLUGIN_EXISTS]: 409,
  [ErrorCodes.PLUGIN_NOT_FOUND]: 404,
  [ErrorCodes.MAX_PLUGINS]: 409,
  [ErrorCodes.ROUTE_CONFLICT]: 409,
  [ErrorCodes.RUNTIME_UNSUPPORTED]: 422,
  [ErrorCodes.GATEWAY_STOPPED]: 503,
  [ErrorCodes.EVENT_NOT_PERMITTED]: 403,
  [ErrorCodes.REGISTRY]: 503,
  [ErrorCodes.ARTIFACT_TOO_LARGE]: 413,
  [ErrorCodes.CATALOG_INVALID]: 422,
  [ErrorCodes.PLUGIN_BOOT_TIMEOUT]: 422,
  [ErrorCodes.PLUGIN_DEFINITION]: 422,
  [ErrorCodes.RATE_LIMIT_STORE_UNAVAILABLE]: 503,
  [ErrorCodes.ARTIFACT_SIGNATURE]: 422,
  [ErrorCodes.SANDBOX_UNAVAILABLE]: 422,
  [ErrorCodes.WASM_MODULE]: 422,
  [ErrorCodes.WASM_IMPORT_REFUSED]: 422,
  [ErrorCodes.UNTRUSTED_RUNTIME]: 422,
  [ErrorCodes.FLAG_NOT_DECLARED]: 422,
  [ErrorCodes.EVENT_BROKER_UNAVAILABLE]: 503,
  [ErrorCodes.PATH_NOT_ALLOWED]: 403,
  [ErrorCodes.SWAP_FAILED]: 422,
  [ErrorCodes.PLUGIN_CONTENT_CHANGED]: 422,
  [ErrorCodes.VERSION_NOT_FOUND]: 404,
  [ErrorCodes.PLUGIN_CODE]: 422,
  [ErrorCodes.TYPESCRIPT_UNAVAILABLE]: 422,
  [ErrorCodes.LIVE_UNSUPPORTED]: 422,
  // What a plugin asked of the host past its ceiling (a fetch, a stored key): it may retry later.
  [ErrorCodes.PLUGIN_LIMIT]: 429,
  // Answered in response bodies by handle(), ctx.call(), peer calls and the adapters:
  [ErrorCodes.BAD_REQUEST]: 400,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.GATEWAY_ERROR]: 500,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.METHOD_NOT_ALLOWED]: 405,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.PLUGIN_UNAVAILABLE]: 503,
  [ErrorCodes.PLUGIN_DISABLED]: 503,
  [ErrorCodes.CIRCUIT_OPEN]: 503,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.BULKHEAD_FULL]: 503,
  [ErrorCodes.OVERLOADED]: 503,
  [ErrorCodes.TIMEOUT]: 504,
  [ErrorCodes.PLUGIN_ERROR]: 500,
  [ErrorCodes.PLUGIN_CRASHED]: 500,
  [ErrorCodes.BAD_RESPONSE]: 500,
  [ErrorCodes.RESPONSE_TOO_LARGE]: 500,
  [ErrorCodes.CALL_NOT_PERMITTED]: 403,
  [ErrorCodes.PEER_UNAUTHORIZED]: 401,
  [ErrorCodes.PEER_UNREACHABLE]: 503,
  // The default; a fault's `abortStatus` chooses another.
  [ErrorCodes.FAULT_INJECTED]: 503,
  [ErrorCodes.UPGRADE_REQUIRED]: 426,
  [ErrorCodes.ORIGIN_NOT_ALLOWED]: 403,
  [ErrorCodes.TOO_MANY_CONNECTIONS]: 503,
  [ErrorCodes.HEADERS_TOO_LARGE]: 431,
  [ErrorCodes.PEER_OPEN_TIMEOUT]: 408,
};

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
