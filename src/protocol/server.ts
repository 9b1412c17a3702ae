import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import { codes, codedError } from '../errors.js';
import type { PluginEnv } from './app.js';
import type { DecodePool } from './decode-pool.js';
import { drainingClose } from './drain.js';
import { failureBody, type Endpoint } from './endpoints.js';
import { bindSocket, type SocketOrigin } from './socket.js';

export interface Listening {
  readonly server: Server;
  /** How we got the socket: created here, or handed over by systemd. */
  readonly via: SocketOrigin;
  /** Stops accepting, lets in-flight calls finish (up to `graceMs`), removes a socket we created. */
  close(graceMs?: number): Promise<void>;
}

export interface Limits {
  /** Largest call read, whatever its path. */
  readonly maxCallBytes: number;
  /** A connection that has not sent a request's headers within this is closed. */
  readonly headersTimeoutMs: number;
  /** A connection that has not sent a whole request (headers and body) within this is closed. */
  readonly requestTimeoutMs: number;
  /** A kept-alive connection idle for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Calls this large or larger are read and decoded by the decode pool, off the main thread. */
  readonly offloadBytes: number;
}

// The daemon forwards request bodies up to 4 MiB (current moby; 1 MiB in 20.10), about 5.6 MB as
// base64, plus a response of up to 64 KiB in AuthZRes. Anything far larger is not from a daemon.
// The daemon sends a whole call at once over a unix socket (milliseconds for the largest); it keeps
// at most two idle connections per plugin and reuses them, so idle ones are closed only after a
// minute: closing one races with the daemon's next call on it, which it then retries with an
// empty body (a spurious denial).
export const DEFAULT_LIMITS: Limits = {
  maxCallBytes: 16 * 1024 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
  idleTimeoutMs: 60_000,
  // Decoding is linear, about 30-50 ms per MiB at worst: from 64 KiB on, a call would hold up the
  // small calls behind it for milliseconds; below, the hand-over costs more than it saves.
  offloadBytes: 64 * 1024,
};

export interface ListenOptions {
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  /** Told about a call that failed (answered 500, which the daemon treats as a refusal). */
  readonly onError: (err: unknown) => void;
  /** Told about conditions the operator must see (out of file descriptors, connections refused). */
  readonly onWarning: (message: string, err?: unknown) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly limits?: Partial<Limits>;
  /** Where big calls are read and decoded (none: every call on the main thread). */
  readonly decodePool?: DecodePool;
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Buffers a call's body up to `max` bytes, then hands it to `done` synchronously: no promise per call. */
function readBody(
  req: IncomingMessage,
  max: number,
  done: (err: Error | undefined, chunks: readonly Buffer[], size: number) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (d: Buffer) => {
    size += d.length;
    if (size <= max) return void chunks.push(d);
    req.off('data', onData);
    req.off('end', onEnd);
    done(codedError(codes.REQUEST_TOO_LARGE, `call body exceeds ${max} bytes`), [], 0);
  };
  const onEnd = () => done(undefined, chunks, size);
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', (err) => done(err, [], 0));
}

const text = (chunks: readonly Buffer[]): string =>
  chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');

// Bytes of their own for the decode pool: a single chunk may be a view into a buffer the socket shares.
const own = (chunks: readonly Buffer[]): Buffer => (chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks));

/** The soft limit on open files, to refuse connections before accept() fails for want of fds. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** At most one warning per `ms` for a repeating condition, with the count of what was folded in. */
function throttled(ms: number, warn: (message: string, err?: unknown) => void): (message: string, err?: unknown) => void {
  let last = 0;
  let folded = 0;
  return (message, err) => {
    const now = Date.now();
    if (now - last < ms) return void folded++;
    warn(folded > 0 ? `${message} (and ${folded} more since the last warning)` : message, err);
    last = now;
    folded = 0;
  };
}

/**
 * Serves the plugin on its socket: the plugin-protocol endpoints straight from node:http, the rest
 * (banner, health, administration) through the Hono app, which is made (and Hono loaded) on the
 * first such call: the daemon never makes one, and loading Hono and its adapter is a good part of
 * a start. Limits hold for every call whatever its URL: a size cap enforced while reading,
 * timeouts for connections that stall, and a connection cap below the fd limit.
 */
export async function listen(app: () => Promise<Hono<PluginEnv>>, socket: string, opts: ListenOptions): Promise<Listening> {
  const { endpoints, onError, decodePool } = opts;
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const warn = throttled(10_000, opts.onWarning);
  let adapter: Promise<RequestListener> | undefined;
  const viaHono = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void) => {
    // dockerd 20.10 sends an empty Host header; without a fallback hostname the adapter answers 400
    // and the daemon refuses to start.
    adapter ??= Promise.all([app(), import('@hono/node-server')]).then(([a, { getRequestListener }]) =>
      getRequestListener(a.fetch, { hostname: 'plugin.moby.localhost' }),
    );
    adapter.then(
      (listener) => listener(req, res),
      (err: unknown) => {
        adapter = undefined;
        fail(err);
      },
    );
  };

  const server = createServer(
    {
      requireHostHeader: false,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // How often the timeouts above are enforced (Node's default is every 30 s).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    function dispatch(req, res) {
      const fail = (err: unknown, status = 500) => {
        onError(err);
        send(res, status, failureBody(err));
      };
      const declared = Number(req.headers['content-length']);
      if (declared > limits.maxCallBytes) {
        res.setHeader('Connection', 'close');
        return fail(codedError(codes.REQUEST_TOO_LARGE, `call body of ${declared} bytes exceeds ${limits.maxCallBytes}`), 413);
      }
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const endpoint = req.method === 'POST' ? endpoints.get(q === -1 ? url : url.slice(0, q)) : undefined;
      if (!endpoint) return viaHono(req, res, fail);
      readBody(req, limits.maxCallBytes, (err, chunks, size) => {
        if (err) {
          res.setHeader('Connection', 'close');
          return fail(err, (err as { code?: string }).code === codes.REQUEST_TOO_LARGE ? 413 : 500);
        }
        if (decodePool && size >= limits.offloadBytes) {
          // Big: read and decoded by a worker; small calls go on meanwhile. A worker that fails
          // comes back as a Prepared that says so (denied by the handler), never as an allow.
          return void decodePool.prepare(own(chunks)).then(
            (prepared) => {
              try {
                send(res, 200, endpoint(prepared));
              } catch (e) {
                fail(e);
              }
            },
            (e: unknown) => fail(e),
          );
        }
        try {
          send(res, 200, endpoint(text(chunks)));
        } catch (e) {
          fail(e);
        }
      });
    },
  );
  server.keepAliveTimeout = limits.idleTimeoutMs;

  const fdLimit = openFileLimit();
  if (fdLimit !== undefined) server.maxConnections = Math.max(16, fdLimit - 64);
  server.on('drop', () =>
    warn(`refused a connection: ${server.maxConnections} are open, near the limit of ${fdLimit} open files (raise LimitNOFILE)`),
  );
  const close = drainingClose(server);
  const via = await bindSocket(server, socket, opts.env ?? process.env);
  // accept() failing (EMFILE, ENFILE): free what can be freed and keep serving.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') server.closeIdleConnections();
    warn(`accepting a connection failed (${err.code ?? err.message}); still serving`, err);
  });
  return { server, via, close };
}
