import { getRequestListener } from '@hono/node-server';
import cluster from 'node:cluster';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, Server as NetServer } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Hono } from 'hono';
import type { PluginEnv } from './app.js';

export interface Listening {
  readonly server: Server;
  /** How we got the socket: created here, or handed over by systemd. */
  readonly via: 'path' | 'systemd';
  /** Stops accepting, lets in-flight calls finish (up to `graceMs`), removes a socket we created. */
  close(graceMs?: number): Promise<void>;
}

// Asks whether something answers on `path`: a socket left by a killed process refuses connections.
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The listening fd systemd passes with socket activation (sd_listen_fds), if it is ours. */
export function systemdListenFd(env: NodeJS.ProcessEnv): number | undefined {
  return env.LISTEN_FDS === '1' && env.LISTEN_PID === String(process.pid) ? 3 : undefined;
}

/** Handlers answered straight from node:http, by exact POST path: the daemon's per-call hot path. */
export type FastRoutes = Readonly<Record<string, (body: string) => string | Promise<string>>>;

// The daemon forwards request bodies up to 4 MiB (current moby; 1 MiB in 20.10), about 5.6 MB as
// base64, plus a response of up to 64 KiB in AuthZRes. Anything far larger is not from a daemon.
export const MAX_CALL_BYTES = 16 * 1024 * 1024;

/** Buffers a call's body (bounded), then hands it to `done` synchronously: no promise per call. */
function readBody(req: IncomingMessage, done: (err: Error | undefined, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (d: Buffer) => {
    size += d.length;
    if (size <= MAX_CALL_BYTES) chunks.push(d);
  });
  req.once('end', () => {
    if (size > MAX_CALL_BYTES) done(new Error(`call body of ${size} bytes exceeds ${MAX_CALL_BYTES}`), '');
    else done(undefined, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
  });
  req.once('error', (err) => done(err, ''));
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export interface ListenOptions {
  readonly fast?: FastRoutes;
  /** Told about a fast-route call that failed (answered 500, which the daemon treats as a refusal). */
  readonly onError?: (err: unknown) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Serves the Hono app on the plugin socket. The AuthZ calls in `fast` skip the fetch adapter (a web
 * Request and Response per call would double the plugin's CPU per Docker API call); everything else
 * goes through Hono.
 */
export async function listen(app: Hono<PluginEnv>, socket: string, opts: ListenOptions = {}): Promise<Listening> {
  const { fast = {}, onError, env = process.env } = opts;
  // dockerd 20.10 sends an empty Host header; without a fallback hostname the adapter answers 400
  // and the daemon refuses to start.
  const viaHono = getRequestListener(app.fetch, { hostname: 'plugin.moby.localhost' });
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const handler = req.method === 'POST' ? fast[req.url ?? ''] : undefined;
    if (!handler) return void viaHono(req, res);
    // A non-200 with Err makes the daemon fail the call ("plugin failed with error"): never an allow.
    const fail = (err: unknown) => {
      onError?.(err);
      sendJson(res, 500, JSON.stringify({ Err: `docker-authz internal error: ${err instanceof Error ? err.message : String(err)}` }));
    };
    readBody(req, (err, body) => {
      if (err) return fail(err);
      try {
        const out = handler(body);
        if (typeof out === 'string') sendJson(res, 200, out);
        else out.then((text) => sendJson(res, 200, text), fail);
      } catch (e) {
        fail(e);
      }
    });
  });
  // The daemon keeps connections open and reuses them; closing an idle one races with its next
  // call, which the daemon then retries with an empty body. Never time out idle connections.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;

  const fd = systemdListenFd(env);
  let via: Listening['via'];
  if (fd !== undefined) {
    via = 'systemd';
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ fd }, resolve));
  } else {
    via = 'path';
    mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
    if (await socketInUse(socket)) {
      // Under pm2 cluster mode the primary owns the listening socket and shares it with each new
      // worker during a reload: the old worker still serving it is expected, and it must not be unlinked.
      if (!cluster.isWorker) throw new Error(`another process is already serving ${socket}`);
    } else {
      try {
        unlinkSync(socket); // left behind by a killed process: the daemon would get "connection refused"
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
    chmodSync(socket, 0o600);
  }

  // Draining: every response carries `Connection: close`, so the daemon drops each connection itself
  // after reading its answer. Closing a kept-alive connection from this side races with the daemon's
  // next call on it; the daemon then retries that call with an EMPTY body, which is denied (AuthZReq)
  // or blindly allowed (AuthZRes). That race is what a pm2 reload or a restart would otherwise hit.
  let draining = false;
  server.prependListener('request', (_req, res) => {
    if (draining) res.setHeader('Connection', 'close');
  });

  const close = (graceMs = 5000, drainMs = 2000): Promise<void> =>
    new Promise((resolve) => {
      draining = true;
      let ended = false;
      let drained = false;
      const done = () => {
        if (!ended || !drained) return;
        clearTimeout(force);
        resolve();
      };
      // Stop accepting, but leave open connections alone (http.Server.close would also close the
      // idle ones at once). A unix socket we created is removed; one from systemd stays.
      NetServer.prototype.close.call(server, () => {
        ended = true;
        done();
      });
      // Connections the daemon did not use while draining are closed once idle; in-flight calls get
      // until graceMs. Never return before drainMs, even when every connection has gone: in a pm2
      // cluster worker the primary may still be handing over a connection it accepted before it
      // saw this worker stop listening; a worker that stays alive hands it back, one that has
      // exited loses it and the daemon waits for an answer forever.
      setTimeout(
        () => {
          drained = true;
          server.closeIdleConnections();
          done();
        },
        Math.min(drainMs, graceMs),
      ); // not unref'd: the process must live through the drain
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
    });
  return { server, via, close };
}
