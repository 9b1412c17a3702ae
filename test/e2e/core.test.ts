/**
 * The core promise on a real daemon: dockerd 20.10 consults the real plugin (built dist/cli.js),
 * `docker ps` is refused until `docker run hello-world`, the default deny rules hold with messages
 * that name rule and field, everyday work still runs, and the plugin can be restarted (even
 * killed) under a running daemon without losing the greeting.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { spawnPlugin, type PluginProcess } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';

const HELLO_FIRST = 'You must say hello first: run "docker run hello-world"';

interface Decision {
  msg?: string;
  op?: string;
  allow?: boolean;
  rule?: string;
}

t.test('hello gate, default deny rules and everyday work on a real dockerd', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start a private dockerd)');
  const name = uniquePluginName();
  const socket = pluginSocketPath(name);
  const stateDir = await makeTempDir('authz-state-');
  let plugin: PluginProcess = await spawnPlugin({ socket, stateDir });
  t.teardown(async () => {
    await plugin.stop().catch(() => undefined);
  });

  // Images are imported before authz is switched on, as an operator's host already has them.
  const d: Dockerd = await startDockerd({});
  t.teardown(() => d.stop());
  await importImages(d);
  await d.setAuthzPlugins([name]);
  const docker = (...args: string[]) => d.docker(args);

  await t.test('nobody gets the API before saying hello', async (t) => {
    const ps = await docker('ps');
    t.not(ps.code, 0);
    t.match(ps.stderr, `authorization denied by plugin ${name}: denied by rule hello: ${HELLO_FIRST}`);
    const run = await docker('run', '--rm', BUSYBOX_IMAGE, 'true');
    t.not(run.code, 0);
    t.match(run.stderr, HELLO_FIRST);
    const version = await docker('version', '--format', '{{.Server.APIVersion}}');
    t.equal(version.code, 0, 'version negotiation is part of saying hello');
    const denial = plugin.records().find((r) => (r as Decision).rule === 'hello') as Decision | undefined;
    t.match(denial, { msg: 'decision', op: 'container.list', allow: false });
  });

  await t.test('docker run hello-world opens the gate', async (t) => {
    const hello = await docker('run', '--rm', 'hello-world');
    t.equal(hello.code, 0, hello.stderr);
    t.match(hello.stdout, 'Hello from Docker!');
    const ps = await docker('ps', '-a');
    t.equal(ps.code, 0, ps.stderr);
    await plugin.waitForLine((r: { msg?: string; greeted?: boolean }) => r.msg === 'hello' && r.greeted === true);
  });

  await t.test('the default deny rules hold, naming rule and field', async (t) => {
    const cases: [string[], RegExp][] = [
      [
        ['--privileged'],
        /denied by rule no-privileged: --privileged \(HostConfig\.Privileged\) gives the container full access to the host/,
      ],
      [
        ['-v', '/:/host'],
        /denied by rule host-paths: -v \/:\/host \(HostConfig\.Binds\[0\]\) mounts \/ from the host \(this policy allows no host paths\)/,
      ],
      [
        ['-v', '/var/run/docker.sock:/var/run/docker.sock'],
        /denied by rule host-paths: -v \/var\/run\/docker\.sock:\/var\/run\/docker\.sock \(HostConfig\.Binds\[0\]\)/,
      ],
      [
        ['--mount', 'type=bind,source=/etc,target=/h'],
        /denied by rule host-paths: --mount source=\/etc \(HostConfig\.Mounts\[0\]\.Source\)/,
      ],
      [
        ['--mount', 'type=volume,target=/h,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/'],
        /denied by rule host-paths: --mount volume-opt=device=\/ \(HostConfig\.Mounts\[0\]\.VolumeOptions\.DriverConfig\.Options\.device\)/,
      ],
      [['--cap-add', 'SYS_ADMIN'], /denied by rule capabilities: --cap-add CAP_SYS_ADMIN \(HostConfig\.CapAdd\[0\]\)/],
      [['--cap-add', 'ALL'], /denied by rule capabilities/],
      [['--device', '/dev/null'], /denied by rule devices: --device \/dev\/null \(HostConfig\.Devices\[0\]\)/],
      [['--pid', 'host'], /denied by rule host-namespaces: --pid host \(HostConfig\.PidMode\)/],
      [['--ipc', 'host'], /denied by rule host-namespaces: --ipc host \(HostConfig\.IpcMode\)/],
      [['--network', 'host'], /denied by rule host-namespaces: --network host \(HostConfig\.NetworkMode\)/],
      [['--uts', 'host'], /denied by rule host-namespaces: --uts host \(HostConfig\.UTSMode\)/],
      [['--userns', 'host'], /denied by rule host-namespaces: --userns host \(HostConfig\.UsernsMode\)/],
      [
        ['--security-opt', 'seccomp=unconfined'],
        /denied by rule security-options: --security-opt seccomp=unconfined \(HostConfig\.SecurityOpt\[0\]\)/,
      ],
      [['--security-opt', 'apparmor=unconfined'], /denied by rule security-options/],
    ];
    for (const [flags, message] of cases) {
      const r = await docker('run', '--rm', ...flags, BUSYBOX_IMAGE, 'true');
      t.not(r.code, 0, flags.join(' '));
      t.match(r.stderr, message, flags.join(' '));
    }
    const vol = await docker(
      'volume',
      'create',
      '--driver',
      'local',
      '--opt',
      'type=none',
      '--opt',
      'o=bind',
      '--opt',
      'device=/etc',
      'hostetc',
    );
    t.not(vol.code, 0);
    t.match(vol.stderr, /denied by rule host-paths: --opt device=\/etc \(DriverOpts\.device\)/);
    const ls = await docker('ps', '-a', '--format', '{{.Names}}');
    t.equal(ls.stdout.trim(), '', 'no refused container was created');
  });

  await t.test('everyday work stays allowed', async (t) => {
    const ok = async (...args: string[]) => {
      const r = await docker(...args);
      t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    t.equal((await ok('run', '--rm', BUSYBOX_IMAGE, 'echo', 'hi')).trim(), 'hi');
    await ok('volume', 'create', 'work');
    t.equal((await ok('run', '--rm', '-v', 'work:/data', BUSYBOX_IMAGE, 'sh', '-c', 'echo kept > /data/f && cat /data/f')).trim(), 'kept');
    await ok('run', '-d', '--name', 'long', BUSYBOX_IMAGE, 'sh', '-c', 'echo started; while true; do sleep 1; done');
    t.equal((await ok('exec', 'long', 'echo', 'from-exec')).trim(), 'from-exec');
    const privExec = await docker('exec', '--privileged', 'long', 'true');
    t.match(privExec.stderr, /denied by rule no-privileged: docker exec --privileged \(Privileged\)/);
    t.match(await ok('logs', 'long'), 'started');
    t.match(await ok('inspect', '--format', '{{.State.Running}}', 'long'), 'true');
    t.match(await ok('ps'), 'long');
    t.match(await ok('images'), 'e2e/busybox');
    t.match(await ok('network', 'ls'), 'none');
    await ok('volume', 'ls');
    const ctx = await makeTempDir('authz-build-');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nRUN echo built > /built\n`);
    const build = await d.docker(['build', '-t', 'e2e/built', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    t.equal(build.code, 0, build.stderr);
    t.equal((await ok('run', '--rm', 'e2e/built', 'cat', '/built')).trim(), 'built');
    await ok('rm', '-f', 'long');
    await ok('volume', 'rm', 'work');
  });

  await t.test('restarted or killed under a running daemon, the plugin keeps the greeting and the daemon recovers', async (t) => {
    await plugin.stop();
    plugin = await spawnPlugin({ socket, stateDir });
    const ps = await docker('ps');
    t.equal(ps.code, 0, `after a clean restart: ${ps.stderr}`);

    await plugin.kill(); // SIGKILL: no chance to flush anything; the greeting was already on disk
    plugin = await spawnPlugin({ socket, stateDir });
    const again = await docker('ps');
    t.equal(again.code, 0, `after kill -9: ${again.stderr}`);
    const priv = await docker('run', '--rm', '--privileged', BUSYBOX_IMAGE, 'true');
    t.match(priv.stderr, /denied by rule no-privileged/, 'and still enforcing');
  });
});
