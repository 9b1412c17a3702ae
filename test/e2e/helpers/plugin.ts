/**
 * Plugins as dockerd finds them: a legacy (socket-discovered) plugin named N listens on
 * /run/docker/plugins/N.sock; dockerd sends `POST /Plugin.Activate`, then `POST /AuthZPlugin.AuthZReq`
 * and `POST /AuthZPlugin.AuthZRes` for every API call. Start the plugin with spawnPlugin()
 * (test/helpers/spawn-plugin.ts) on `pluginSocketPath(name)`.
 *
 * Each test process has its own plugins dir, `PLUGINS_DIR` (/run/authz-e2e/<pid>), and every
 * dockerd it starts sees that dir, and only that, as /run/docker/plugins (helpers/dockerd.ts binds it
 * there in the daemon's own mount namespace). The machine-wide /run/docker/plugins is never used:
 * whenever dockerd lists volumes (and when it looks for a volume or network driver) it activates
 * every socket there it has not activated yet, and waits for each: ~15 s of retries for a socket
 * nobody listens on, forever for one that accepts and never answers. A plugin another test file
 * is killing or restarting at that moment would stall this file's daemons.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/** This process's plugins dir on the host; dockerds started by helpers/dockerd.ts see it as /run/docker/plugins. */
export const PLUGINS_DIR = path.join('/run/authz-e2e', String(process.pid));

/** Where a daemon started by helpers/dockerd.ts looks for plugins. */
export const DAEMON_PLUGINS_DIR = '/run/docker/plugins';

// Sockets are removed by their plugins' stop(); the dir goes with the process.
process.once('exit', () => rmSync(PLUGINS_DIR, { recursive: true, force: true }));

/** e.g. `authz-e2e-1234-a1b2c3`. */
export function uniquePluginName(): string {
  return `authz-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** `<PLUGINS_DIR>/<name>.sock`: /run/docker/plugins/<name>.sock for this process's daemons. */
export function pluginSocketPath(name: string): string {
  return path.join(PLUGINS_DIR, `${name}.sock`);
}

/**
 * Source of a stand-in allow-all authz plugin (plain Node ESM, no dependencies).
 * It listens on $AUTHZ_SOCKET, answers `GET /` with 200, `Plugin.Activate` with
 * {"Implements":["authz"]}, everything else with {"Allow":true}, and prints one
 * JSON line per plugin request: {"op":"req"|"res"|"activate"|..., "method", "path", "allow":true}.
 */
export const ALLOW_ALL_PLUGIN_SOURCE = `
import http from 'node:http'
import fs from 'node:fs'
const sock = process.env.AUTHZ_SOCKET
if (!sock) { console.error('AUTHZ_SOCKET not set'); process.exit(2) }
try { fs.unlinkSync(sock) } catch {}
const ops = { '/Plugin.Activate': 'activate', '/AuthZPlugin.AuthZReq': 'req', '/AuthZPlugin.AuthZRes': 'res' }
const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    let body = {}
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') } catch {}
    let reply
    if (req.method === 'GET' && req.url === '/') reply = { ok: true }
    else if (req.url === '/Plugin.Activate') reply = { Implements: ['authz'] }
    else reply = { Allow: true }
    if (!(req.method === 'GET' && req.url === '/')) {
      console.log(JSON.stringify({ op: ops[req.url] ?? req.url, method: body.RequestMethod, path: body.RequestUri, user: body.User, allow: true, host: req.headers.host }))
    }
    res.setHeader('Content-Type', 'application/vnd.docker.plugins.v1+json')
    res.end(JSON.stringify(reply))
  })
})
server.listen(sock, () => console.log(JSON.stringify({ msg: 'listening', socket: sock })))
const shutdown = () => { server.close(() => process.exit(0)); server.closeAllConnections() }
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
`;

/** Write the allow-all stand-in into `dir`; returns the argv to pass as `command`. */
export async function writeAllowAllPlugin(dir: string): Promise<string[]> {
  const file = path.join(dir, 'allow-all-plugin.mjs');
  await writeFile(file, ALLOW_ALL_PLUGIN_SOURCE);
  return [process.execPath, file];
}
