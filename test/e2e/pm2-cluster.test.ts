/**
 * Several workers, one truth: the plugin under pm2 in cluster mode with two workers (what the
 * ecosystem file scaled to 2 gives, and what every `pm2 reload` briefly has), one state database.
 *
 * - a greeting recorded through one worker counts on every connection, whichever worker takes it;
 *   a reset (`docker-authz hello reset`) likewise; two workers greeting different identities at
 *   once lose none;
 * - `pm2 reload` and `pm2 restart` with an invalid policy on disk keep serving the last good policy
 *   on a real dockerd: docker keeps working and the denials stay the same.
 *
 * pm2 hands each new connection to the next worker, so N calls on N fresh connections reach both.
 */
import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { unixRequest } from '../helpers/http.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { run as runCommand } from '../helpers/process.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => runCommand(cmd, args, { env, cwd: REPO_ROOT, timeoutMs: 90_000 });

const envelope = (user: string, method: string, uri: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ User: user, RequestMethod: method, RequestUri: uri, RequestHeaders: { 'Content-Length': '0' }, ...extra });
const psAs = (user: string) => envelope(user, 'GET', '/v1.41/containers/json');
const helloBody = Buffer.from('{"Image":"hello-world"}\n');
const greetingOf = (user: string) =>
  envelope(user, 'POST', '/v1.41/containers/create', {
    RequestBody: helloBody.toString('base64'),
    RequestHeaders: { 'Content-Type': 'application/json', 'Content-Length': String(helloBody.length) },
    ResponseStatusCode: 201,
  });

t.test('pm2 with two workers: one state, and a broken policy at reload or restart keeps the last good one', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root');
  const tmp = await makeTempDir('pc-');
  const name = uniquePluginName();
  const socket = pluginSocketPath(name);
  const policy = path.join(tmp, 'policy.yaml');
  await copyFile(path.join(REPO_ROOT, 'policy', 'default.yaml'), policy);
  const d = await startDockerd({});
  const envFile = path.join(tmp, 'authz.env');
  await writeFile(
    envFile,
    `AUTHZ_SOCKET=${socket}\nAUTHZ_STATE_DIR=${path.join(tmp, 'state')}\nAUTHZ_POLICY=${policy}\nAUTHZ_LOG_LEVEL=info\nAUTHZ_DOCKER_HOST=unix://${d.socket}\n`,
  );

  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && !k.startsWith('AUTHZ_') && !k.startsWith('TAP')) env[k] = v;
  env.PM2_HOME = path.join(tmp, 'pm2');
  env.AUTHZ_ENV_FILE = envFile;
  const pm2 = (...args: string[]) => run(path.join(REPO_ROOT, 'node_modules', '.bin', 'pm2'), args, env);
  const cli = (...args: string[]) => run(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), ...args], env);
  const workers = async () => {
    const r = await pm2('jlist');
    return (JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { pid: number; pm2_env: { status: string } }[]).filter(
      (w) => w.pm2_env.status === 'online',
    );
  };

  t.teardown(async () => {
    await pm2('kill').catch(() => undefined);
    await d.stop();
    await rm(tmp, { recursive: true, force: true });
    await rm(socket, { force: true });
  });
  await importImages(d);

  t.equal((await pm2('start', 'ecosystem.config.js')).code, 0, 'pm2 start');
  t.equal((await pm2('scale', 'docker-authz', '2')).code, 0, 'pm2 scale docker-authz 2');
  await pollUntil(async () => (await workers()).length === 2, { timeoutMs: 30_000, what: 'two online workers' });
  await pollUntil(async () => (await unixRequest(socket, 'GET', '/health', { timeoutMs: 2_000 }).catch(() => undefined))?.status === 200, {
    timeoutMs: 15_000,
    what: 'the plugin to answer',
  });

  // Each call on a fresh connection: pm2's primary deals connections to the workers in turn.
  const decide = async (body: string) => {
    const r = await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZReq', { body });
    return JSON.parse(r.body) as { Allow: boolean; Msg?: string };
  };
  const pids = new Set<number>();
  for (let i = 0; i < 20; i++) pids.add((JSON.parse((await unixRequest(socket, 'GET', '/health')).body) as { pid: number }).pid);
  t.equal(pids.size, 2, 'calls reach both workers');

  await t.test('a greeting and a reset are seen by every worker at once', async (t) => {
    const before = await Promise.all(Array.from({ length: 50 }, () => decide(psAs('alice'))));
    t.equal(before.filter((v) => !v.Allow).length, 50, 'alice is refused before hello');
    await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZRes', { body: greetingOf('alice') });
    const after = [];
    for (let i = 0; i < 200; i++) after.push(await decide(psAs('alice')));
    t.equal(after.filter((v) => v.Allow).length, 200, '200 of 200 calls by alice are allowed after her greeting');
    const reset = await cli('hello', 'reset', '--user', 'alice');
    t.equal(reset.code, 0, reset.stderr);
    const refused = [];
    for (let i = 0; i < 200; i++) refused.push(await decide(psAs('alice')));
    t.equal(refused.filter((v) => !v.Allow && /hello/.test(v.Msg ?? '')).length, 200, '200 of 200 are refused after the reset');
  });

  await t.test('two workers greeting 1,000 identities at once lose none', async (t) => {
    const ids = Array.from({ length: 1000 }, (_, i) => `user${i}`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => unixRequest(socket, 'POST', '/AuthZPlugin.AuthZRes', { body: greetingOf(id) })));
    }
    const status = await cli('hello', 'status', '--format', 'json');
    const greeted = new Set((JSON.parse(status.stdout) as { identity: string }[]).map((g) => g.identity));
    t.equal(ids.filter((id) => greeted.has(id)).length, 1000, 'every greeting is in the database');
  });

  await t.test('docker-authz status tells whether the daemon really consults the plugin', async (t) => {
    const before = await cli('status');
    t.match(before.stdout, /daemon: +unix:\/\/\S+ does NOT consult this plugin/, 'not yet enabled in the daemon');
    t.equal(before.code, 1);
    await d.setAuthzPlugins([name]);
    const after = await cli('status');
    t.match(after.stdout, /daemon: +unix:\/\/\S+ consults this plugin/, 'enabled');
    t.equal(after.code, 0, after.stdout);
  });

  await t.test('pm2 reload and restart with an invalid policy on disk: docker keeps working, denials stay', async (t) => {
    const hello = await d.docker(['run', '--rm', 'hello-world']);
    t.equal(hello.code, 0, hello.stderr);
    const privileged = await d.docker(['create', '--privileged', BUSYBOX_IMAGE]);
    t.match(privileged.stderr, /denied by rule no-privileged/);

    await writeFile(policy, 'version: 1\nrules:\n  - id: x\n    kind: privilegd\n');
    for (const action of ['reload', 'restart']) {
      const r = await pm2(action, 'docker-authz');
      t.equal(r.code, 0, `pm2 ${action}`, { output: r.stdout + r.stderr });
      await pollUntil(async () => (await workers()).length === 2, { timeoutMs: 30_000, what: `two workers after ${action}` });
      const ps = await d.docker(['ps']);
      t.equal(ps.code, 0, `docker ps works after pm2 ${action} with a broken policy`, { stderr: ps.stderr });
      const again = await d.docker(['create', '--privileged', BUSYBOX_IMAGE]);
      t.match(again.stderr, /denied by rule no-privileged/, `the same denial after pm2 ${action}`);
      const status = await cli('status');
      t.equal(status.code, 1, 'docker-authz status says something needs attention');
      t.match(status.stdout, /LAST GOOD policy[\s\S]*policy\.yaml:4:11/, 'and names the rejected file with file:line:col');
    }
    const restarts = (await workers()).length;
    t.equal(restarts, 2, 'no crash loop: both workers online');
  });
});
