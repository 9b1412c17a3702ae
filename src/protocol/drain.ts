import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * Makes `server` close without losing a daemon call. Every response sent while draining carries
 * `Connection: close`, so the daemon drops each connection itself after reading its answer: closing
 * a kept-alive connection from this side races with the daemon's next call on it, which the daemon
 * then retries with an EMPTY body (denied at AuthZReq, blindly allowed at AuthZRes). That race is
 * what a pm2 reload or a restart would otherwise hit.
 */
export function drainingClose(server: Server): (graceMs?: number, drainMs?: number) => Promise<void> {
  let draining = false;
  server.prependListener('request', (_req, res) => {
    if (draining) res.setHeader('Connection', 'close');
  });
  return (graceMs = 5000, drainMs = 2000) =>
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
}
