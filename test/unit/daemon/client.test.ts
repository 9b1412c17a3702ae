import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { unixClient, socketOfDockerHost } from '../../../src/daemon/client.js';

async function fakeDaemon(t: Test, handler: http.RequestListener): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-'));
  const socket = join(dir, 'd.sock');
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return socket;
}

t.test('DOCKER_HOST values', async (t) => {
  t.equal(socketOfDockerHost('unix:///var/run/docker.sock'), '/var/run/docker.sock');
  t.equal(socketOfDockerHost('/run/docker.sock'), '/run/docker.sock');
  t.equal(socketOfDockerHost('unix://'), undefined);
  t.equal(socketOfDockerHost('tcp://127.0.0.1:2375'), undefined);
  t.equal(socketOfDockerHost('ssh://host'), undefined);
});

t.test('reads JSON, sends its headers, reports the daemon message on errors', async (t) => {
  const seen: { url?: string; host?: string; mark?: string }[] = [];
  const socket = await fakeDaemon(t, (req, res) => {
    seen.push({ url: req.url, host: req.headers.host, mark: req.headers['x-mark'] as string | undefined });
    if (req.url === '/info') return res.end(JSON.stringify({ ServerVersion: '20.10' }));
    if (req.url === '/text') return res.end('not json');
    res.statusCode = 403;
    res.end(JSON.stringify({ message: 'authorization denied by plugin authz: You must say hello first' }));
  });
  const client = unixClient({ socketPath: socket, headers: { 'X-Mark': 'scan' } });
  t.teardown(() => client.close());
  t.same(await client.getJson('/info'), { ServerVersion: '20.10' });
  t.same(seen[0], { url: '/info', host: 'docker', mark: 'scan' });
  await t.rejects(client.getJson('/containers/json'), {
    code: 'AUTHZ_DAEMON_REQUEST',
    message: /403 authorization denied by plugin authz: You must say hello first/,
  });
  await t.rejects(client.getJson('/text'), { code: 'AUTHZ_DAEMON_REQUEST', message: /not JSON/ });
  t.match(await client.request('GET', '/other'), { status: 403 });
});

t.test('a daemon that does not answer, answers too much, or is not there', async (t) => {
  const socket = await fakeDaemon(t, (req, res) => {
    if (req.url === '/slow') return; // never answers
    res.end('x'.repeat(2048));
  });
  const client = unixClient({ socketPath: socket, timeoutMs: 200, maxBytes: 1024 });
  t.teardown(() => client.close());
  await t.rejects(client.getJson('/slow'), { code: 'AUTHZ_DAEMON_REQUEST', message: /no answer within 200 ms/ });
  await t.rejects(client.getJson('/big'), { code: 'AUTHZ_DAEMON_REQUEST', message: /larger than 1024 bytes/ });
  const missing = unixClient({ socketPath: join(tmpdir(), 'no-such-daemon.sock') });
  await t.rejects(missing.getJson('/info'), { code: 'AUTHZ_DAEMON_REQUEST', message: /ENOENT/ });
  missing.close();
});
