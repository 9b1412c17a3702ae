/**
 * "Never down, never open": the real plugin process (node dist/cli.js serve) under the faults an
 * operator's host produces: a log reader that stops reading, a policy file caught mid-write, a
 * restart with a broken policy, a state directory that cannot be used, a full disk, and limits
 * (size whatever the URL, nesting, stalled connections, running out of file descriptors).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { unixRequest } from '../helpers/http.js';
import { envelope } from '../helpers/corpus.js';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { run, type ExecResult } from '../helpers/process.js';
import { spawnPlugin, type PluginProcess } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';

const NO_HOST_BINDS =
  'version: 1\nhello: {enabled: false}\nrules:\n  - id: host-paths\n    kind: host-mounts\n  - id: no-privileged\n    kind: privileged\n';
const OPEN = 'version: 1\nhello: {enabled: false}\nrules: []\n';
const BROKEN = 'version: 1\nhello: {enabled: false}\nrules:\n  - id: x\n    kind: privilegd\n';

const ROOT_BIND = JSON.stringify(envelope('POST', '/v1.41/containers/create', { Image: 'busybox', HostConfig: { Binds: ['/:/host'] } }));
const PS = JSON.stringify(envelope('GET', '/v1.41/containers/json'));
const greetingRes = (user: string) =>
  JSON.stringify({ ...envelope('POST', '/v1.41/containers/create', { Image: 'hello-world' }), User: user, ResponseStatusCode: 201 });
const psAs = (user: string) => JSON.stringify({ ...envelope('GET', '/v1.41/containers/json'), User: user });

async function decide(socket: string, body: string, agent?: Agent): Promise<{ Allow: boolean; Msg?: string }> {
  const r = await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZReq', { body, agent });
  if (r.status !== 200) throw new Error(`AuthZReq answered ${r.status}: ${r.body}`);
  return r.json();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- /health is untyped JSON here
async function health(socket: string): Promise<Record<string, any>> {
  return (await unixRequest(socket, 'GET', '/health')).json();
}

async function workdir(t: Test) {
  const dir = await makeTempDir('flt-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, socket: path.join(dir, 'authz.sock'), stateDir: path.join(dir, 'state'), policy: path.join(dir, 'policy.yaml') };
}

async function start(
  t: Test,
  opts: { socket: string; stateDir: string; policy?: string; command?: string[]; env?: Record<string, string> },
): Promise<PluginProcess> {
  const p = await spawnPlugin({
    socket: opts.socket,
    stateDir: opts.stateDir,
    ...(opts.policy && { policyFile: opts.policy }),
    ...(opts.command && { command: opts.command }),
    env: { AUTHZ_ENV_FILE: '', ...opts.env },
  });
  t.teardown(() => p.stop());
  return p;
}

t.test('a log reader that never reads does not hold up a single decision; dropped lines are counted', async (t) => {
  const { dir, socket, stateDir } = await workdir(t);
  // stdout is a pipe this test never reads: once the kernel buffer is full, nothing more leaves.
  const child = spawn(process.execPath, [PLUGIN_CLI, 'serve'], {
    env: { PATH: process.env.PATH, AUTHZ_ENV_FILE: '', AUTHZ_SOCKET: socket, AUTHZ_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: dir,
  });
  child.stdout.pause();
  t.teardown(() => child.kill('SIGKILL'));
  await pollUntil(async () => (await unixRequest(socket, 'GET', '/').catch(() => undefined))?.status === 200, {
    timeoutMs: 15_000,
    what: 'the plugin',
  });

  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  t.teardown(() => agent.destroy());
  const latencies: number[] = [];
  let answered = 0;
  const N = 20_000;
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next++;
      const t0 = process.hrtime.bigint();
      const verdict = await decide(socket, PS, agent);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (verdict.Allow === false && /hello/.test(verdict.Msg ?? '')) answered++;
    }
  };
  await Promise.all([worker(), worker()]);
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  t.equal(answered, N, `all ${N} calls were decided while stdout was not read`);
  t.comment(`p99 ${p99.toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms over ${N} calls (2 connections)`);
  // A reader that blocks the event loop would stall calls for as long as it does not read (forever here).
  t.ok(p99 < 50, `p99 stays in milliseconds (${p99.toFixed(2)} ms)`);
  const h = await health(socket);
  t.ok(h.log.dropped > 0, `dropped lines are counted (${h.log.dropped})`);
  t.equal(h.status, 'ok', 'dropping log lines does not make the plugin unhealthy');
});

t.test('a policy written in place in two steps is never decided by its first half', async (t) => {
  const { socket, stateDir, policy } = await workdir(t);
  await writeFile(policy, NO_HOST_BINDS);
  const p = await start(t, { socket, stateDir, policy });
  t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ });

  // Step one: truncate and write a valid first half (no rules yet), as `> policy.yaml` and an editor would.
  let mark = p.lines().length;
  await writeFile(policy, OPEN);
  await p.waitForLine((o: { msg?: string }) => /modified in place/.test(o.msg ?? ''), 10_000, mark);
  // The pause: requests arrive while the file is half-written.
  for (let i = 0; i < 20; i++)
    t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ }, `request ${i} during the pause`);
  // Step two: the rest (here: the first half again plus a rule) — still not loaded until reloaded.
  await writeFile(policy, `${OPEN.replace('rules: []\n', 'rules:\n  - id: priv\n    kind: privileged\n')}`);
  t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ }, 'the edit is not loaded on its own');
  mark = p.lines().length;
  process.kill(p.pid, 'SIGHUP');
  await p.waitForLine((o: { msg?: string }) => o.msg === 'policy reloaded', 10_000, mark);
  t.match(await decide(socket, ROOT_BIND), { Allow: true }, 'the operator reloads once the edit is complete');

  // A replacement by rename is loaded on its own: it is complete when the path names it.
  mark = p.lines().length;
  await writeFile(`${policy}.new`, NO_HOST_BINDS);
  await rename(`${policy}.new`, policy);
  await p.waitForLine((o: { msg?: string; trigger?: string }) => o.msg === 'policy reloaded' && o.trigger === 'replaced', 10_000, mark);
  t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ });
});

t.test('a restart with a broken policy serves the last good one; with none saved, it denies everything and says why', async (t) => {
  const { socket, stateDir, policy } = await workdir(t);
  await writeFile(policy, NO_HOST_BINDS);
  const first = await start(t, { socket, stateDir, policy });
  t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ });
  await first.stop();

  await writeFile(policy, BROKEN);
  const second = await start(t, { socket, stateDir, policy });
  t.equal(second.exitStatus(), undefined, 'it started');
  t.match(await decide(socket, ROOT_BIND), { Allow: false, Msg: /host-paths/ }, 'the same denial as before the restart');
  t.match(await decide(socket, PS), { Allow: true });
  const h = await health(socket);
  t.match(h, { status: 'degraded', policy: { state: 'last-known-good', rejected: { errors: [new RegExp(`${policy}:5:11`)] } } });
  await second.waitForLine(
    (o: { level?: string; msg?: string }) => o.level === 'error' && /serving the last good policy/.test(o.msg ?? ''),
  );
  const status = spawnCli(['status'], { AUTHZ_SOCKET: socket });
  t.equal((await status).code, 1, 'docker-authz status exits 1');
  t.match((await status).stdout, /LAST GOOD policy[\s\S]*policy\.yaml:5:11/);
  await second.stop();

  const fresh = await workdir(t);
  await writeFile(fresh.policy, BROKEN);
  await start(t, { socket: fresh.socket, stateDir: fresh.stateDir, policy: fresh.policy });
  t.match(await decide(fresh.socket, PS), {
    Allow: false,
    Msg: /^denied by rule policy-invalid: docker-authz has no valid policy .*policy\.yaml:5:11/,
  });
  t.match(await decide(fresh.socket, JSON.stringify(envelope('HEAD', '/_ping'))), { Allow: true }, 'the CLI handshake still works');
  t.match(await health(fresh.socket), { status: 'degraded', policy: { state: 'deny-all' } });
});

t.test('a state directory that cannot be used: the plugin starts, fails closed, and says so', async (t) => {
  const { dir, socket, policy } = await workdir(t);
  await writeFile(policy, 'version: 1\nrules: []\n');
  const notADir = path.join(dir, 'state-file');
  writeFileSync(notADir, 'x');
  // (The harness makes the directory it is given; the plugin is pointed past it at the file.)
  await start(t, { socket, stateDir: path.join(dir, 'unused'), policy, env: { AUTHZ_STATE_DIR: notADir } });
  t.match(await health(socket), { status: 'degraded', state: { ok: false, error: /cannot use the state database/ } });
  t.match(await decide(socket, PS), {
    Allow: false,
    Msg: /^denied by rule hello: no greeting can be read .*cannot use the state database/,
  });

  const second = await workdir(t);
  mkdirSync(path.join(second.stateDir, 'hello.json'), { recursive: true });
  writeFileSync(path.join(second.stateDir, 'hello.json.99.tmp'), '{');
  const p = await start(t, { socket: second.socket, stateDir: second.stateDir, policy });
  t.match(await health(second.socket), { state: { ok: true } }, 'a hello.json that is a directory does not stop the start');
  await p.waitForLine((o: { msg?: string }) => /is not a file; it was ignored/.test(o.msg ?? ''));
  await p.waitForLine((o: { msg?: string }) => /removed hello\.json\.99\.tmp/.test(o.msg ?? ''), 10_000, 0);
});

/** Runs the plugin in a private mount namespace with `mounts` done first (tmpfs, read-only binds). */
function inNamespace(setup: string): string[] {
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${setup} && exec "$0" "$@"`, process.execPath, PLUGIN_CLI, 'serve'];
}

t.test('a read-only state directory and a full disk: the plugin keeps serving and fails closed', async (t) => {
  const { socket, stateDir, policy } = await workdir(t);
  await writeFile(policy, 'version: 1\nrules: []\n');
  mkdirSync(stateDir);
  await start(t, {
    socket,
    stateDir,
    policy,
    command: inNamespace(`mount --bind ${stateDir} ${stateDir} && mount -o remount,bind,ro ${stateDir}`),
  });
  t.match(await health(socket), { status: 'degraded', state: { ok: false, error: /cannot use the state database/ } });
  t.match(await decide(socket, PS), { Allow: false, Msg: /no greeting can be read/ });

  const full = await workdir(t);
  mkdirSync(full.stateDir);
  const p = await start(t, {
    socket: full.socket,
    stateDir: full.stateDir,
    policy,
    command: inNamespace(`mount -t tmpfs -o size=2m tmpfs ${full.stateDir}`),
  });
  t.match(await health(full.socket), { state: { ok: true } });
  // alice says hello while there is room; then the disk fills up.
  await unixRequest(full.socket, 'POST', '/AuthZPlugin.AuthZRes', { body: greetingRes('alice') });
  t.match(await decide(full.socket, psAs('alice')), { Allow: true });
  const fill = spawn('nsenter', ['-t', String(p.pid), '-m', '--', 'sh', '-c', `cat /dev/zero > ${full.stateDir}/filler; true`]);
  await new Promise((r) => fill.once('exit', r));
  const mark = p.lines().length;
  t.equal(
    (await unixRequest(full.socket, 'POST', '/AuthZPlugin.AuthZRes', { body: greetingRes('bob') })).status,
    200,
    'the daemon is answered',
  );
  await p.waitForLine(
    (o: { level?: string; msg?: string; err?: string }) => o.level === 'error' && /could not record the greeting/.test(o.msg ?? ''),
    10_000,
    mark,
  );
  t.match(await decide(full.socket, psAs('bob')), { Allow: false, Msg: /hello/ }, 'a greeting that was not written does not count');
  t.match(await decide(full.socket, psAs('alice')), { Allow: true }, 'what was written still holds');
  t.notOk(
    p.records().some((r) => (r as { msg?: string; identity?: string }).msg === 'hello' && (r as { identity?: string }).identity === 'bob'),
    'no "hello" success line for the greeting that failed',
  );
});

t.test('limits: size whatever the URL, nesting, stalled and idle connections', async (t) => {
  const { socket, stateDir } = await workdir(t);
  const { startInProcess, stopInProcess } = await import('../helpers/plugin-process.js');
  const p = await startInProcess(
    { AUTHZ_SOCKET: socket, AUTHZ_STATE_DIR: stateDir },
    { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 3000, idleTimeoutMs: 1000 } },
  );
  t.teardown(() => stopInProcess(p));

  const deep = `{"RequestMethod":"GET","RequestUri":"/_ping","X":${'['.repeat(500_000)}${']'.repeat(500_000)}}`;
  const r = await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZReq', { body: deep });
  t.match(r.json(), { Allow: false, Msg: /nests deeper than/ }, 'deep nesting is refused before parsing');

  const closedWithin = (send: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(socket);
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(got));
      s.write(send);
    });
  t.match(await closedWithin('POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\n'), /408|^$/, 'headers that never finish: closed');
  t.match(
    await closedWithin('POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nContent-Length: 100\r\n\r\n{"partial":'),
    /408|^$/,
    'a body that never finishes: closed',
  );
  const idle = await closedWithin(`POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nContent-Length: ${Buffer.byteLength(PS)}\r\n\r\n${PS}`);
  t.match(idle, /^HTTP\/1\.1 200 OK[\s\S]*"Allow":false/, 'an idle kept-alive connection is answered, then closed after the idle timeout');
});

t.test('out of file descriptors: connections are refused and logged, and the plugin recovers', async (t) => {
  const { socket, stateDir } = await workdir(t);
  const p = await start(t, { socket, stateDir, command: ['prlimit', '--nofile=96:96', process.execPath, PLUGIN_CLI, 'serve'] });
  const sockets = await Promise.all(
    Array.from(
      { length: 150 },
      () =>
        new Promise<Socket>((resolve) => {
          const s = connect(socket);
          s.on('error', () => undefined);
          s.once('connect', () => resolve(s));
          s.once('close', () => resolve(s));
        }),
    ),
  );
  await p.waitForLine(
    (o: { level?: string; msg?: string }) => o.level === 'error' && /refused a connection|accepting a connection failed/.test(o.msg ?? ''),
  );
  for (const s of sockets) s.destroy();
  await pollUntil(
    async () => (await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZReq', { body: PS }).catch(() => undefined))?.status === 200,
    {
      timeoutMs: 10_000,
      what: 'the plugin to answer again',
    },
  );
  t.equal(p.exitStatus(), undefined, 'still running');
});

function spawnCli(args: string[], env: Record<string, string>): Promise<ExecResult> {
  return run(process.execPath, [PLUGIN_CLI, ...args], { env: { PATH: process.env.PATH, AUTHZ_ENV_FILE: '', ...env } });
}
