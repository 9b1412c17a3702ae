import { createAdaptorServer } from '@hono/node-server';
import cluster from 'node:cluster';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import type { Hono } from 'hono';

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

export async function listen(app: Hono, socket: string, env: NodeJS.ProcessEnv = process.env): Promise<Listening> {
  // dockerd 20.10 sends an empty Host header; without a fallback hostname the adapter answers 400
  // and the daemon refuses to start.
  const server = createAdaptorServer({
    fetch: app.fetch,
    hostname: 'plugin.moby.localhost',
    serverOptions: { requireHostHeader: false },
  }) as Server;
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

  const close = (graceMs = 5000): Promise<void> =>
    new Promise((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
      // server.close removes a unix socket it created; a socket from systemd stays for the next start.
    });
  return { server, via, close };
}
