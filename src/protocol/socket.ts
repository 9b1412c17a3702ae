import cluster from 'node:cluster';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { codes, codedError } from '../errors.js';

/** How the server got its socket: created at the path, or handed over by systemd. */
export type SocketOrigin = 'path' | 'systemd';

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

function listenOn(server: Server, target: string | { fd: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Binds `server` to the plugin socket: systemd's (socket activation) when it passed one, otherwise
 * `path`, created root-only. A socket left by a killed process is replaced; one that answers is
 * another plugin's, except under pm2 cluster mode, where the primary shares one socket with the
 * old and the new worker during a reload.
 */
export async function bindSocket(server: Server, path: string, env: NodeJS.ProcessEnv): Promise<SocketOrigin> {
  const fd = systemdListenFd(env);
  if (fd !== undefined) {
    await listenOn(server, { fd });
    return 'systemd';
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (await socketInUse(path)) {
    if (!cluster.isWorker) throw codedError(codes.SOCKET_IN_USE, `another process is already serving ${path}`);
  } else {
    try {
      unlinkSync(path); // left behind by a killed process: the daemon would get "connection refused"
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  await listenOn(server, path);
  chmodSync(path, 0o600);
  return 'path';
}
