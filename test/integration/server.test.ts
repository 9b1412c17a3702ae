import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { raw, unixRequest } from '../helpers/http.js';
import { startInProcess, stopInProcess } from '../helpers/plugin-process.js';

// The built CLI, as operators run it (npm test builds first).
const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const PING = `${JSON.stringify({ RequestMethod: 'HEAD', RequestUri: '/_ping', RequestHeaders: { 'User-Agent': 'Docker-Client/28.2.2 (linux)' } })}\n`;

t.test('answers exactly what dockerd 20.10 sends: empty Host, no Content-Type, one connection reused', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  const req = (body: string) =>
    `POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\r\n${body}`;
  const activate = 'POST /Plugin.Activate HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n';
  const out = await raw(p.socket, activate + req(PING) + req(PING), /(\{"Allow":true\}[\s\S]*){2}/);
  t.match(out, /^HTTP\/1\.1 200 OK/);
  t.match(out, /\{"Implements":\["authz"\]\}/);
  t.equal(out.match(/HTTP\/1\.1 200 OK/g)?.length, 3, 'three answers on one connection');
  t.notMatch(out, /Connection: close/i);
});

t.test('a retry with an empty body, garbage or a non-object is denied, not allowed', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  for (const body of ['', '   ', 'not json', '[]', 'null', '"x"', '{"RequestMethod":"GET"}']) {
    const res = await unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body });
    t.equal(res.status, 200, JSON.stringify(body));
    t.equal(res.json<{ Allow: boolean }>().Allow, false, JSON.stringify(body));
    t.match(res.json<{ Msg: string }>().Msg, /\S/);
  }
  const res = await unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZRes', { body: '' });
  t.same(res.json(), { Allow: true }, 'AuthZRes cannot undo anything; it is always answered');
});

t.test('a call far larger than any daemon sends fails closed without holding it in memory', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  const huge = JSON.stringify({ RequestMethod: 'GET', RequestUri: '/v1.41/info', Pad: 'x'.repeat(17 * 1024 * 1024) });
  for (const path of ['/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZReq?x', '/health', '/nowhere']) {
    const res = await unixRequest(p.socket, 'POST', path, { body: huge });
    t.equal(res.status, 413, `${path}: refused whatever the URL`);
    t.match(res.json(), { Err: /AUTHZ_REQUEST_TOO_LARGE.*exceeds/ });
  }
  t.equal((await unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: PING })).body, '{"Allow":true}', 'still serving');
});

t.test('banner, health and unknown endpoints', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  const banner = await unixRequest(p.socket, 'GET', '/');
  t.equal(banner.status, 200);
  t.match(banner.body, /^docker-authz \S+: Docker authorization plugin "authz" is running/);
  t.match((await unixRequest(p.socket, 'GET', '/health')).json(), {
    status: 'ok',
    plugin: 'authz',
    policy: { state: 'file', rules: Number },
    state: { ok: true },
    log: { dropped: 0 },
  });
  const unknown = await unixRequest(p.socket, 'POST', '/VolumeDriver.Mount', { body: '{}' });
  t.equal(unknown.status, 404);
  t.match(unknown.json(), { Err: /no such endpoint/ });
});

t.test('concurrent keep-alive callers all get answers', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  t.teardown(() => agent.destroy());
  const results = await Promise.all(
    Array.from({ length: 200 }, () => unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: PING, agent })),
  );
  t.ok(results.every((r) => r.status === 200 && r.body === '{"Allow":true}'));
});

t.test('a stale socket from a killed process is replaced; a live one is not stolen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'authz-stale-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'authz.sock');
  // A socket file nobody listens on, as SIGKILL leaves it.
  const holder = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((r) => holder.stdout.once('data', () => r()));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  t.ok(existsSync(socket), 'stale socket file exists');
  const p = await startInProcess({ AUTHZ_SOCKET: socket });
  t.equal((await unixRequest(socket, 'GET', '/')).status, 200, 'serving on the old path');
  await t.rejects(startInProcess({ AUTHZ_SOCKET: socket }), /already serving/);
  await p.plugin.stop();
  t.notOk(existsSync(socket), 'the socket is removed on shutdown');
});

function runCli(
  args: string[],
  env: Record<string, string>,
): {
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(sig: NodeJS.Signals): void;
  waitFor(re: RegExp): Promise<void>;
} {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: [RegExp, () => void][] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const [re, done] of waiters) if (re.test(stdout)) done();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    exited,
    kill: (sig) => child.kill(sig),
    waitFor: (re) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(stdout)) return resolve();
        waiters.push([re, resolve]);
        void exited.then(() => reject(new Error(`exited before ${re}: ${stderr}`)));
      }),
  };
}

t.test('the CLI: serve shuts down cleanly on SIGTERM; a bad config never starts; check points at the line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'authz-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'authz.sock');
  const env = { AUTHZ_SOCKET: socket, AUTHZ_STATE_DIR: join(dir, 'state') };
  const serve = runCli(['serve'], env);
  await serve.waitFor(/"msg":"listening"/);
  t.equal((await unixRequest(socket, 'GET', '/')).status, 200);
  serve.kill('SIGTERM');
  const done = await serve.exited;
  t.equal(done.code, 0);
  t.match(done.stdout, /"msg":"stopped"/);
  t.notOk(existsSync(socket), 'socket removed');

  const badEnv = await runCli(['serve'], { ...env, AUTHZ_LOG_LEVEL: 'chatty' }).exited;
  t.equal(badEnv.code, 1);
  t.match(badEnv.stderr, /AUTHZ_CONFIG_INVALID[\s\S]*AUTHZ_LOG_LEVEL/);
  t.notOk(existsSync(socket), 'no socket for a plugin that did not start');

  const policy = join(dir, 'bad.yaml');
  writeFileSync(policy, 'version: 1\nrules:\n  - id: x\n    kind: privilegd\n');
  const check = await runCli(['check', policy], env).exited;
  t.equal(check.code, 1);
  t.match(check.stderr, new RegExp(`^${policy}:4:11: rule x: kind: "privilegd" is not one of`));
  const good = await runCli(['check'], env).exited;
  t.equal(good.code, 0);
  t.match(good.stdout, /default\.yaml: OK/);
});
