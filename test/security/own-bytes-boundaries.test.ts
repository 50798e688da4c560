import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every place where bytes cross between the host and a plugin (or a peer) hands on exact-size copies
 * made by the one function for it, `src/shared/own-bytes.ts`: a `Buffer` of a few KiB is usually a
 * view on Node's shared pool, and a structured clone sends the view's whole backing store, other
 * requests' bytes with it. Each boundary is listed with what crosses it; a new boundary belongs here.
 */
const BOUNDARIES: [file: string, crossing: string, call: RegExp][] = [
  ['src/adapters/request-body.ts', 'an HTTP request body, read from the socket', /\bownBytes\(/],
  ['src/adapters/node-exchange.ts', 'a parsed request body, handed to the gateway', /\bownBody\(/],
  ['src/core/admission.ts', "a handle() caller's request body, to the plugin", /\bownBody\(/],
  [
    'src/core/service-calls.ts',
    'a ctx.call() request and its answer',
    /\bownBody\([\s\S]*\bownBody\(/,
  ],
  ['src/core/event-delivery.ts', 'an event payload, to each subscriber', /\bownBody\(/],
  ['src/fleet/peer-protocol.ts', "a peer gateway's body, decoded", /\bownBytes\(/],
  [
    'src/loader/worker/note-check.ts',
    "a plugin thread's reply, checked by the host",
    /\bownReplyBody\(/,
  ],
];

const root = path.resolve(import.meta.dirname, '../..');

describe.each(BOUNDARIES)('%s (%s)', (file, _crossing, call) => {
  const source = readFileSync(path.join(root, file), 'utf8');

  it('copies through src/shared/own-bytes.ts', () => {
    expect(source).toMatch(/from '(\.\.\/)+shared\/own-bytes\.js'/);
    expect(source).toMatch(call);
  });
});

it('is the only exact-size copy in the sources', () => {
  const own = readFileSync(path.join(root, 'src/shared/own-bytes.ts'), 'utf8');
  expect(own).toContain('allocUnsafeSlow');
  for (const [file] of BOUNDARIES) {
    expect(readFileSync(path.join(root, file), 'utf8')).not.toMatch(
      /allocUnsafeSlow|\.slice\(\)\.buffer/,
    );
  }
});
