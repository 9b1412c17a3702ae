import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface RelayEnd {
  /** Bytes the user sent (to the daemon) and received (from the daemon). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  /** Why the connection ended abnormally, if it did. */
  readonly error?: string;
}

export interface Relay {
  /** Ends both sides at once (the user was removed, the gateway stops). */
  destroy(): void;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Pipes `client` (a user's unix-socket connection) and `upstream` (a TLS connection to the daemon)
 * into each other, byte for byte, without looking at what passes: keep-alive, upgraded and hijacked
 * streams (attach, exec, logs -f, build, push/pull progress) all work unchanged.
 *
 * - Backpressure: pipe() stops reading one side while the other cannot take more, so a slow reader
 *   never makes the gateway buffer a stream (memory stays flat however much goes through).
 * - Half-close: both sockets are `allowHalfOpen`, and the end of one direction (EOF on the unix
 *   socket, close_notify + FIN from the daemon) is passed on as end() of the same direction only;
 *   `docker exec -i` closes its stdin that way and still reads the output.
 * - Failure: when the daemon cannot be reached, or refuses the certificate, before it has sent a
 *   byte, the user gets an HTTP 502 whose message says why (the docker CLI prints it); otherwise
 *   an error on either side ends both.
 */
export function relay(client: Socket, upstream: TLSSocket, describeFailure: (err: Error) => string, onEnd: (end: RelayEnd) => void): Relay {
  const started = performance.now();
  let error: string | undefined;
  let fromDaemon = 0;
  let ended = false;

  upstream.setNoDelay(true);
  const handshake = setTimeout(
    () => upstream.destroy(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)),
    HANDSHAKE_TIMEOUT_MS,
  );
  upstream.once('secureConnect', () => clearTimeout(handshake));
  upstream.once('data', () => (fromDaemon = 1));

  client.pipe(upstream);
  upstream.pipe(client);

  let open = 2;
  const closed = () => {
    if (--open > 0 || ended) return;
    ended = true;
    clearTimeout(handshake);
    onEnd({ bytesIn: client.bytesRead, bytesOut: client.bytesWritten, durationMs: Math.round(performance.now() - started), error });
  };
  client.once('close', closed);
  upstream.once('close', closed);

  client.on('error', (err: Error) => {
    error ??= `client: ${err.message}`;
    upstream.destroy();
  });
  upstream.on('error', (err: Error) => {
    error ??= `daemon: ${err.message}`;
    if (fromDaemon > 0 || client.destroyed) {
      client.destroy();
      return;
    }
    // Nothing from the daemon has reached the user: answer the request with the reason.
    client.unpipe(upstream);
    const message = describeFailure(err);
    const answer = () => {
      const body = `${JSON.stringify({ message })}\n`;
      client.end(
        `HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      // Whatever the user still sends is read and dropped, so the answer is not lost to a reset.
      client.resume();
      setTimeout(() => client.destroy(), 5_000).unref();
    };
    if (client.bytesRead > 0) answer();
    else {
      client.once('data', answer);
      client.once('end', () => client.destroy());
      client.resume();
      setTimeout(() => client.destroy(), 5_000).unref();
    }
  });

  return {
    destroy() {
      client.destroy();
      upstream.destroy();
    },
  };
}
