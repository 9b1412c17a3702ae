import { createServer, type Server } from 'node:http';
import { unixClient } from '../daemon/client.js';
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
export async function callGateway(socket: string, method: 'GET' | 'POST', path: '/reload' | '/status'): Promise<ReloadResult | undefined> {
  // A reload reads every user's certificate: give it time.
  const client = unixClient({ socketPath: socket, timeoutMs: 120_000 });
  let res;
  try {
    res = await client.request(method, path);
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined;
    throw err;
  } finally {
    client.close();
  }
  let json: (ReloadResult & { message?: string }) | undefined;
  try {
    json = JSON.parse(res.body) as ReloadResult & { message?: string };
  } catch {
    // not JSON: said below
  }
  if (res.status === 200 && json) return json;
  throw new Error(`the gateway answered ${res.status}: ${json?.message ?? res.body}`);
}
