/**
 * `permissions.network` entries: `host` (any port) or `host:port`; an IPv6 address in brackets
 * (`[::1]`, `[::1]:8080`). Hosts are compared as written, without resolving names: `localhost` does not
 * admit `127.0.0.1`, and a name admitted is admitted whatever address it resolves to.
 * @module
 */

/** One parsed entry. `port` undefined admits every port of the host. */
export interface NetworkGrant {
  host: string;
  port: number | undefined;
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ENTRY = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/;

/** Parses one entry; a string saying what is wrong when it is not valid. */
export function parseNetworkGrant(entry: string): NetworkGrant | string {
  const match = ENTRY.exec(entry);
  if (!match) return `"${entry}" is not "host" or "host:port" (IPv6 in brackets: "[::1]:8080")`;
  const host = (match[1] ?? match[2]!).toLowerCase();
  if (match[2] !== undefined && !HOST.test(host)) return `"${entry}": "${host}" is not a host name`;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65_535)) return `"${entry}": port out of 1-65535`;
  return { host, port };
}

/** The grants of a manifest's (already validated) entries. */
export function parseNetworkGrants(entries: readonly string[]): NetworkGrant[] {
  return entries.flatMap((e) => {
    const grant = parseNetworkGrant(e);
    return typeof grant === 'string' ? [] : [grant];
  });
}

/** Whether `host` (a name or an address, IPv6 with or without brackets) and `port` are granted. */
export function isGranted(
  grants: readonly NetworkGrant[],
  host: string,
  port: number | undefined,
): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return grants.some((g) => g.host === h && (g.port === undefined || g.port === port));
}
