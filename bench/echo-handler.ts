import type { PluginRequest, PluginResponse } from '../src/index.js';

/** The work every variant does: the same echo, so that only the path to it differs. */
export function echo(req: Pick<PluginRequest, 'body'>): PluginResponse {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: req.body };
}
