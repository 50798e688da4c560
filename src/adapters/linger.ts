/**
 * Ending the connection of an upload the gateway did not read to its end (a `stream.request_body`
 * endpoint that answered early, or refused it 413) without losing the answer.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long an upload the gateway did not read is discarded after the answer, before the socket ends. */
const LINGER_MS = 1000;

/**
 * Answers with `connection: close`, then ends the socket gently: its write side first, while what the
 * client still sends is read and dropped for `LINGER_MS`. Closing at once with unread bytes would
 * reset the connection, and the client could lose the answer (Go's net/http lingers the same way).
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  const socket = req.socket;
  // Node calls destroySoon() once a `connection: close` answer is written (a streamed one included,
  // whose plugin may read the upload until then).
  socket.destroySoon = function lingering(this: typeof socket) {
    req.on('readable', () => {
      while (req.read() !== null);
    });
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}
