import { createServer, request, type Server } from 'node:http';
import type { Gateway, ReloadResult } from './gateway.js';
import { listenOwned, unlinkIfSame } from './socket-file.js';

/**
 * The gateway's control socket (root-only, 0600): `POST /reload` re-reads the users and answers
 * with who is served and who is not and why; `GET /status` answers the same without reloading.
 * `docker-authz users add|remove|renew` use it, so they can say whether the socket is there.
 */
export async function startControl(gateway: Gateway, socket: string): Promise<{ close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === '/reload') {
      gateway.reload().then(
        (r) => reply(200, r),
        (err: Error) => reply(500, { message: err.message }),
      );
    } else if (req.method === 'GET' && req.url === '/status') reply(200, gateway.status());
    else reply(404, { message: 'not found' });
    req.resume();
  });
  const ino = await listenOwned(server, socket, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  return {
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlinkIfSame(socket, ino);
    },
  };
}

/** Asks a running gateway; undefined when none answers on `socket`. */
export function callGateway(socket: string, method: 'GET' | 'POST', path: '/reload' | '/status'): Promise<ReloadResult | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { host: 'localhost', 'content-length': 0 } }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => {
          try {
            const json = JSON.parse(text) as ReloadResult & { message?: string };
            if (res.statusCode === 200) resolve(json);
            else reject(new Error(`the gateway answered ${res.statusCode}: ${json.message ?? text}`));
          } catch {
            reject(new Error(`the gateway answered ${res.statusCode}: ${text}`));
          }
        });
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`no answer from the gateway on ${socket}`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(err);
    });
    req.end();
  });
}
