/**
 * Proves the e2e harness itself (no plugin code from src/ involved): a private
 * dockerd starts, images import and run, an authz plugin (an allow-all stand-in)
 * is enabled and disabled by config reload, the daemon sees this test's plugins
 * and no others, and stop() leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { unixRequest } from '../helpers/http.js';
import { isGone } from '../helpers/process.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, HELLO_IMAGE, importImages } from './helpers/images.js';
import { DAEMON_PLUGINS_DIR, pluginSocketPath, uniquePluginName, writeAllowAllPlugin } from './helpers/plugin.js';

interface PluginLine {
  op?: string;
  method?: string;
  path?: string;
  allow?: boolean;
  host?: string;
}

const onPath = (re: RegExp) => (o: PluginLine) => o.op === 'req' && typeof o.path === 'string' && re.test(o.path);

async function pidsMentioning(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`${dir}/`) && !isGone(Number(e))) pids.push(Number(e));
  }
  return pids;
}

/** Pids of processes in mount namespace `ns` (as `readlink /proc/<pid>/ns/mnt` prints it). */
async function pidsInMountNamespace(ns: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if ((await readlink(`/proc/${e}/ns/mnt`).catch(() => '')) === ns && !isGone(Number(e))) pids.push(Number(e));
  }
  return pids;
}

t.test('e2e harness: private dockerd, images, authz plugin reload, cleanup', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start a private dockerd)');
  const started = Date.now();
  const d = await startDockerd({});
  t.teardown(() => d.stop());

  const ping = await d.request('GET', '/_ping');
  t.equal(ping.status, 200, 'daemon answers /_ping');
  t.equal(ping.body, 'OK', '/_ping body');
  const initialCfg = JSON.parse(await readFile(path.join(d.dir, 'daemon.json'), 'utf8')) as Record<string, unknown>;
  t.notOk('authorization-plugins' in initialCfg, 'no authz plugin configured initially');

  await importImages(d);
  const images = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.equal(images.code, 0, 'docker images succeeds');
  t.same(images.stdout.trim().split('\n').sort(), [BUSYBOX_IMAGE, HELLO_IMAGE].sort(), 'exactly the two test images');

  const hello = await d.docker(['run', '--rm', 'hello-world']);
  t.equal(hello.code, 0, `docker run hello-world exits 0 (stderr: ${hello.stderr})`);
  t.match(hello.stdout, /^Hello from Docker!$/m, 'hello-world greets');
  t.match(hello.stdout, /^This message shows that your installation appears to be working correctly\.$/m, 'hello-world explains itself');

  const echo = await d.docker(['run', '--rm', 'e2e/busybox', 'echo', 'ok']);
  t.equal(echo.code, 0, `busybox echo exits 0 (stderr: ${echo.stderr})`);
  t.equal(echo.stdout, 'ok\n', 'busybox echo prints ok');

  const failing = await d.docker(['run', '--rm', 'e2e/busybox', 'sh', '-c', 'exit 3']);
  t.equal(failing.code, 3, 'docker() reports the exit code without throwing');

  const stdin = await d.docker(['run', '--rm', '-i', 'e2e/busybox', 'wc', '-c'], { input: 'twelve bytes' });
  t.equal(stdin.stdout.trim(), '12', 'input is passed on stdin');

  // --- the stand-in plugin --------------------------------------------------
  const tmp = await makeTempDir('pl-');
  const name = uniquePluginName();
  const socket = pluginSocketPath(name);
  const p = await spawnPlugin({ socket, stateDir: path.join(tmp, 'state'), command: await writeAllowAllPlugin(tmp) });
  t.teardown(async () => {
    await p.stop();
    await rm(tmp, { recursive: true, force: true });
  });
  t.ok(existsSync(socket), `plugin listens on ${socket}`);
  t.match(name, /^authz-e2e-\d+-[0-9a-f]{6}$/, 'unique plugin name');

  // The daemon's /run/docker/plugins is this process's plugins dir, not the machine's (seen through
  // /proc/<pid>/root, which resolves in the daemon's mount namespace).
  const marker = path.join(DAEMON_PLUGINS_DIR, `authz-e2e-${process.pid}-marker`);
  await mkdir(DAEMON_PLUGINS_DIR, { recursive: true });
  await writeFile(marker, 'not a plugin\n');
  t.teardown(() => rm(marker, { force: true }));
  t.same(
    await readdir(path.join(`/proc/${d.pid}/root`, DAEMON_PLUGINS_DIR)),
    [`${name}.sock`],
    "the daemon's plugins dir holds this test's plugin socket and nothing from the machine's",
  );

  const before = await d.docker(['ps']);
  t.equal(before.code, 0, 'docker ps works before authz is enabled');

  await d.setAuthzPlugins([name]);
  const cfg = JSON.parse(await readFile(path.join(d.dir, 'daemon.json'), 'utf8')) as Record<string, unknown>;
  t.same(cfg['authorization-plugins'], [name], 'daemon.json names the plugin');
  await p.waitForLine((o: PluginLine) => o.op === 'activate', 5_000);
  t.notOk(
    p.records().some((o) => onPath(/\/containers\/json/)(o as PluginLine)),
    'the plugin did not see the docker ps from before it was enabled',
  );

  const mark = p.lines().length;
  const ps = await d.docker(['ps']);
  t.equal(ps.code, 0, `docker ps with the allow-all plugin (stderr: ${ps.stderr})`);
  t.match(ps.stdout, /^CONTAINER ID\s+IMAGE/, 'docker ps prints its table header');
  const seen = await p.waitForLine(onPath(/^\/v[\d.]+\/containers\/json/), 10_000, mark);
  t.match(seen, { op: 'req', method: 'GET', allow: true }, 'the plugin was consulted for docker ps');
  t.equal(seen.host, '', 'dockerd 20.10 sends an empty Host header to plugins');
  await p.waitForLine((o: PluginLine) => o.op === 'res' && o.path === seen.path, 10_000, mark);

  const raw = await d.request('GET', '/v1.41/info');
  t.equal(raw.status, 200, 'raw request through the plugin');
  await p.waitForLine(onPath(/^\/v1\.41\/info$/), 10_000, mark);

  // --- disable again: the plugin must not be consulted any more ---------------
  await d.setAuthzPlugins([]);
  const mark2 = p.lines().length;
  const after = await d.docker(['ps']);
  t.equal(after.code, 0, 'docker ps after disabling authz');
  // The plugin's stdout is ordered: once a sentinel request sent straight to the
  // plugin is logged, anything dockerd sent before it would be logged too.
  const sentinel = `/sentinel-${Date.now()}`;
  const direct = await unixRequest(socket, 'POST', '/AuthZPlugin.AuthZReq', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ RequestMethod: 'GET', RequestUri: sentinel }),
  });
  t.equal(direct.status, 200, 'direct request to the plugin');
  await p.waitForLine((o: PluginLine) => o.path === sentinel, 5_000, mark2);
  // Plugin.Activate is not counted: a daemon activates every socket in its /run/docker/plugins when
  // it looks for volume or network drivers.
  t.same(
    p
      .lines()
      .slice(mark2)
      .map((l) => JSON.parse(l) as PluginLine)
      .filter((o) => o.op !== 'activate')
      .map((o) => o.path),
    [sentinel],
    'after disabling, dockerd sent the plugin nothing',
  );

  // --- explicit shutdown: nothing may be left behind ------------------------
  const bg = await d.docker(['run', '-d', 'e2e/busybox', 'sleep', '300']);
  t.equal(bg.code, 0, `background container started (stderr: ${bg.stderr})`);
  const inspect = await d.docker(['inspect', '-f', '{{.State.Pid}}', bg.stdout.trim()]);
  const containerPid = Number(inspect.stdout.trim());
  t.ok(containerPid > 0 && !isGone(containerPid), `the container's sleep runs as host pid ${containerPid}`);

  const stopPlugin = await p.stop();
  t.equal(stopPlugin.code, 0, 'stand-in plugin exits 0 on SIGTERM');
  t.notOk(existsSync(socket), 'plugin socket removed');

  const daemonNamespace = await readlink(`/proc/${d.pid}/ns/mnt`);
  t.not(daemonNamespace, await readlink('/proc/self/ns/mnt'), 'dockerd runs in a mount namespace of its own');
  const stopStart = Date.now();
  await d.stop();
  t.ok(d.exitStatus() !== undefined, 'dockerd exited');
  t.notOk(existsSync(d.dir), 'daemon temp dir removed');
  t.notOk(!isGone(containerPid), 'the container process is gone');
  t.same(await pidsMentioning(d.dir), [], 'no containerd/shim processes left');
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  t.notOk(mounts.includes(d.dir), 'no mounts left under the daemon dir');
  t.same(
    await pidsInMountNamespace(daemonNamespace),
    [],
    "no process is left in the daemon's mount namespace (its mounts are gone with it)",
  );
  t.comment(`daemon stop took ${Date.now() - stopStart}ms; whole smoke test ${Date.now() - started}ms`);
});
