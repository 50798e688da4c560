/**
 * Signing in to the management API from a browser: HTTP Basic authentication (RFC 7617). The 401 carries
 * `WWW-Authenticate: Basic realm=…`, so every browser asks for a user and password with its own dialog
 * and sends them on each request of the page, the dashboard's own `fetch()` calls included
 * (docs/decisions/0150-management-sign-in-is-http-basic.md).
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../core/options.js';
import type { GatewayRequest } from '../shared/types.js';
import { InvalidArgumentError } from '../errors.js';

/** One user of {@link basicAuthentication}. */
export interface BasicUser {
  /** The password, at least 12 characters (read it from a secret, never from the code). */
  password: string;
  /** The roles the user holds; the management API needs its `role` (`admin`) among them. */
  roles: readonly string[];
}

/** Options of {@link basicAuthentication}. */
export interface BasicAuthenticationOptions {
  /** Users by name (no `:` in a name). */
  users: Readonly<Record<string, BasicUser>>;
  /** The realm the browser shows in its sign-in dialog. @default 'veza management' */
  realm?: string;
}

/** An `authenticate` that carries the challenge a 401 sends with it. */
export type ChallengingAuthenticate = ((req: GatewayRequest) => Identity | null) & {
  /** The `WWW-Authenticate` value of a 401. */
  readonly challenge: string;
};

/** Longest `authorization` header read: a credential is a few dozen bytes, not a megabyte. */
const MAX_HEADER_CHARS = 4096;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * An `authenticate` for `createManagement` (or the gateway) that accepts HTTP Basic credentials of
 * `users`, and whose 401 asks the browser for them. Use it over HTTPS only: Basic sends the password
 * with every request.
 * @throws {InvalidArgumentError} with no user, a name with `:`, a password under 12 characters, or
 * roles that are not a list of strings.
 * @example
 * const management = createManagement(gateway, {
 *   authenticate: basicAuthentication({ users: { ops: { password: process.env.ADMIN_PASSWORD!, roles: ['admin'] } } }),
 * });
 */
export function basicAuthentication(options: BasicAuthenticationOptions): ChallengingAuthenticate {
  const entries = Object.entries(options?.users ?? {});
  if (entries.length === 0) {
    throw new InvalidArgumentError('Expected `users` to name at least one user, got none');
  }
  const users = new Map<string, { password: Buffer; roles: readonly string[] }>();
  for (const [name, user] of entries) {
    if (name === '' || name.includes(':') || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new InvalidArgumentError(
        `Expected a user name without ":" or control characters, got \`${JSON.stringify(name)}\``,
      );
    }
    if (typeof user?.password !== 'string' || user.password.length < 12) {
      throw new InvalidArgumentError(
        `Expected \`users.${name}.password\` to be a string of at least 12 characters`,
      );
    }
    if (!Array.isArray(user.roles) || !user.roles.every((r) => typeof r === 'string')) {
      throw new InvalidArgumentError(`Expected \`users.${name}.roles\` to be a list of strings`);
    }
    users.set(name, { password: digest(user.password), roles: Object.freeze([...user.roles]) });
  }
  const realm = (options.realm ?? 'veza management').replace(/[^\x20-\x7e]|["\\]/g, '');
  // Compared against when the user is unknown, so that an unknown name costs what a wrong password does.
  const nobody = digest('\u0000no such user');
  const authenticate = (req: GatewayRequest): Identity | null => {
    const header = req.headers?.['authorization'];
    if (typeof header !== 'string' || header.length > MAX_HEADER_CHARS) return null;
    const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
    if (!match) return null;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const name = decoded.slice(0, colon);
    const user = users.get(name);
    const same = timingSafeEqual(user?.password ?? nobody, digest(decoded.slice(colon + 1)));
    return user && same ? { userId: name, roles: [...user.roles] } : null;
  };
  return Object.assign(authenticate, {
    challenge: `Basic realm="${realm}", charset="UTF-8"`,
  });
}
