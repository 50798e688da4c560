/**
 * What of a plugin's response headers may reach the wire: the adapter frames the response itself, so
 * hop-by-hop and length headers are its own, and a header Node would refuse (CR, LF, NUL, a name that
 * is not a token) is dropped rather than failing the whole response.
 * @module
 */
import type { PluginResponse } from '../shared/types.js';

/** Headers the adapter frames itself (RFC 9110 §7.6.1 hop-by-hop, and the body's length). */
const FRAMING = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'http2-settings',
]);
/** RFC 9110 token; field values: visible ASCII, obs-text, space and tab (no CR, LF or NUL). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A plugin's headers fit for the wire: names lower-cased (one of each), framing and invalid headers
 * dropped, lists kept as lists (one header line per value).
 */
export function wireHeaders(given: PluginResponse['headers']): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (typeof given !== 'object' || given === null) return headers;
  for (const name of Object.keys(given)) {
    const value = (given as Record<string, unknown>)[name];
    const lower = name.toLowerCase();
    if (FRAMING.has(lower) || !HEADER_NAME.test(name)) continue;
    if (Array.isArray(value)) {
      const values = value.filter(
        (v): v is string => typeof v === 'string' && HEADER_VALUE.test(v),
      );
      if (values.length > 0) headers[lower] = values;
    } else if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value);
      if (HEADER_VALUE.test(text)) headers[lower] = text;
    }
  }
  return headers;
}
