/**
 * Every local user is someone, end to end: a real dockerd with a TLS listener that trusts the
 * docker-authz CA (made by `docker-authz users init`), the real plugin, the real gateway
 * (`docker-authz gateway`), two Unix accounts created here, and the real docker CLI run as each
 * of them against their own socket. The daemon reports each user's certificate CN to the plugin,
 * so the hello gate, per-user rules and group rules apply per user, and the plugin log names them.
 * Hijacked streams (exec -i, run -i), logs -f and a build go through the gateway unchanged, a user
 * cannot open another's socket, and 1 GiB of container logs streams through without the gateway
 * growing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { run as runCommand, type RunOptions } from '../helpers/process.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';

const HELLO_FIRST = 'You must say hello first: run "docker run hello-world"';
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

// Output kept in memory is capped: one of the commands streams 1 GiB (all of it is counted).
const run = (cmd: string, args: string[], opts: RunOptions = {}) => runCommand(cmd, args, { maxStdout: 64 * 1024, ...opts });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface User {
  name: string;
  uid: number;
  gid: number;
  home: string;
  socket: string;
}

t.test('two Unix users, each through their own socket, each themselves to the plugin', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they create users and start a private dockerd)');
  const dir = await makeTempDir('ugw-');
  await chmod(dir, 0o711); // users must reach their socket and home below it
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const tag = randomBytes(2).toString('hex');
  const names = { alice: `ug${tag}alice`, bob: `ug${tag}bob` };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AUTHZ_PKI_DIR: join(dir, 'pki'),
    AUTHZ_USERS_SOCKET_DIR: join(dir, 'run', 'users'),
    AUTHZ_GATEWAY_SOCKET: join(dir, 'run', 'gateway.sock'),
    AUTHZ_DAEMON_TLS_ADDRESS: `127.0.0.1:${await freePort()}`,
    AUTHZ_POLICY: join(dir, 'policy.yaml'),
    AUTHZ_LOG_LEVEL: 'info',
  };
  const cli = (...args: string[]) => run(process.execPath, [PLUGIN_CLI, ...args], { env, cwd: dir, timeoutMs: 60_000 });

  const users: Record<'alice' | 'bob', User> = {} as never;
  await mkdir(join(dir, 'home'), { mode: 0o711 });
  for (const [key, name] of Object.entries(names) as Array<['alice' | 'bob', string]>) {
    const home = join(dir, 'home', name);
    const add = await run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name]);
    t.equal(add.code, 0, `useradd ${name}: ${add.stderr}`);
    t.teardown(() => run('userdel', [name]).then(() => undefined));
    const id = (flag: string) => run('id', [flag, name]).then((r) => Number(r.stdout.trim()));
    const [uid, gid] = [await id('-u'), await id('-g')];
    await mkdir(home, { recursive: true, mode: 0o700 });
    await chown(home, uid, gid);
    users[key] = { name, uid, gid, home, socket: join(dir, 'run', 'users', `${name}.sock`) };
  }
  const { alice, bob } = users;

  await writeFile(
    env.AUTHZ_POLICY!,
    `# test policy
version: 1
groups:
  builders: []          # who may build images
  viewers: [${bob.name}]
rules:
  - id: only-builders-build
    kind: operations
    operations: [image.build]
    exceptGroups: [builders]
  - id: bob-no-volumes
    kind: operations
    operations: [volume.create]
    users: [${bob.name}]
  - id: no-privileged
    kind: privileged
`,
  );

  // The daemon side, as the installer will set it up: the CA and server certificate from
  // `users init`, a TLS listener on 127.0.0.1 that verifies clients, the unix socket for root.
  const init = await cli('users', 'init', '--json');
  t.equal(init.code, 0, init.stderr);
  const tlsConf = JSON.parse(init.stdout) as { tcp: string; tlscacert: string; tlscert: string; tlskey: string };
  t.equal((await stat(env.AUTHZ_PKI_DIR!)).mode & 0o777, 0o700, 'the PKI directory is root-only');
  t.equal((await stat(tlsConf.tlskey)).mode & 0o777, 0o600, 'keys are 0600');

  const pluginName = uniquePluginName();
  const plugin = await spawnPlugin({ socket: pluginSocketPath(pluginName), stateDir: join(dir, 'state'), policyFile: env.AUTHZ_POLICY });
  t.teardown(() => plugin.stop());
  const d = await startDockerd({
    extraArgs: [
      '-H',
      tlsConf.tcp,
      '--tlsverify',
      `--tlscacert=${tlsConf.tlscacert}`,
      `--tlscert=${tlsConf.tlscert}`,
      `--tlskey=${tlsConf.tlskey}`,
    ],
  });
  t.teardown(() => d.stop());
  await importImages(d);
  await d.setAuthzPlugins([pluginName]);

  // The gateway, as its systemd unit runs it.
  const gwLines: Array<Record<string, unknown>> = [];
  const gateway: ChildProcess = spawn(process.execPath, [PLUGIN_CLI, 'gateway'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let partial = '';
  gateway.stdout!.on('data', (c: Buffer) => {
    partial += c.toString();
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      try {
        gwLines.push(JSON.parse(partial.slice(0, nl)) as Record<string, unknown>);
      } catch {
        // not JSON
      }
      partial = partial.slice(nl + 1);
    }
  });
  const gatewayGone = new Promise<void>((r) => gateway.once('exit', () => r()));
  t.teardown(async () => {
    gateway.kill('SIGTERM');
    await gatewayGone;
  });
  await pollUntil(() => gwLines.some((l) => l.msg === 'gateway listening'), { timeoutMs: 15_000, what: 'the gateway' });

  const addAlice = await cli('users', 'add', alice.name, '--group', 'builders');
  t.equal(addAlice.code, 0, addAlice.stderr);
  t.match(addAlice.stdout, `export DOCKER_HOST=unix://${alice.socket}`, 'add prints the line the user needs');
  t.match(addAlice.stdout, 'the gateway serves');
  const policyText = await readFile(env.AUTHZ_POLICY!, 'utf8');
  t.match(policyText, `builders: [${alice.name}]          # who may build images`, 'alice is in builders; the comment is kept');
  t.match(policyText, /^# test policy\n/, 'the rest of the file is untouched');
  const addBob = await cli('users', 'add', bob.name, '--docker-context');
  t.equal(addBob.code, 0, addBob.stderr);
  t.match(addBob.stdout, 'docker context "docker-authz" created and selected');
  await plugin.waitForLine((r: { msg?: string }) => r.msg === 'policy reloaded');

  const docker = (
    u: User,
    args: string[],
    opts: { input?: string; env?: Record<string, string>; timeoutMs?: number; context?: boolean } = {},
  ) =>
    run('docker', args, {
      uid: u.uid,
      gid: u.gid,
      cwd: u.home,
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: u.home,
        USER: u.name,
        DOCKER_CLI_HINTS: 'false',
        ...(opts.context ? {} : { DOCKER_HOST: `unix://${u.socket}` }),
        ...opts.env,
      },
    });

  await t.test('each user has a socket of their own; nobody else can open it', async (t) => {
    const s = await stat(alice.socket);
    t.ok(s.isSocket());
    t.equal(s.uid, alice.uid, "alice's socket belongs to alice");
    t.equal(s.mode & 0o777, 0o600);
    const cross = await docker(alice, ['-H', `unix://${bob.socket}`, 'version']);
    t.not(cross.code, 0);
    t.match(cross.stderr, /permission denied/, "alice cannot connect to bob's socket");
    const list = await cli('users', 'list');
    t.match(
      list.stdout,
      new RegExp(`${alice.name}\\s+${alice.socket.replaceAll('.', '\\.')}\\s+\\d{4}-\\d\\d-\\d\\d\\s+builders\\s+served`),
    );
    t.match(list.stdout, new RegExp(`${bob.name}\\s.*\\sviewers\\s+served`));
  });

  await t.test('the hello gate is per user: one greeting opens it for that user only', async (t) => {
    t.match((await docker(alice, ['ps'])).stderr, HELLO_FIRST);
    const hello = await docker(alice, ['run', '--rm', 'hello-world']);
    t.equal(hello.code, 0, hello.stderr);
    t.match(hello.stdout, 'Hello from Docker!');
    t.equal((await docker(alice, ['ps'])).code, 0, 'alice is through the gate');
    t.match(
      (await docker(bob, ['ps'], { context: true })).stderr,
      HELLO_FIRST,
      "alice's hello does not open it for bob (who uses his docker context)",
    );
    t.match((await d.docker(['ps'])).stderr, HELLO_FIRST, 'nor for root on the unix socket (@anonymous)');
    const seen = await plugin.waitForLine(
      (r: { msg?: string; identity?: string; op?: string; allow?: boolean }) =>
        r.msg === 'decision' && r.identity === alice.name && r.op === 'container.list' && r.allow === true,
    );
    t.ok(seen, 'the plugin log names alice');
    const bobHello = await docker(bob, ['run', '--rm', 'hello-world'], { context: true });
    t.equal(bobHello.code, 0, bobHello.stderr);
  });

  await t.test('per-user and group rules apply to their user only', async (t) => {
    const bobVolume = await docker(bob, ['volume', 'create', 'bobs']);
    t.not(bobVolume.code, 0);
    t.match(bobVolume.stderr, 'denied by rule bob-no-volumes');
    t.equal((await docker(alice, ['volume', 'create', 'alices'])).code, 0, 'the rule is scoped to bob');
    t.match((await docker(alice, ['run', '--rm', '--privileged', BUSYBOX_IMAGE, 'true'])).stderr, 'denied by rule no-privileged');

    const ctx = join(dir, 'build');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nRUN echo built-through-the-gateway > /built\n`);
    await chmod(ctx, 0o755);
    await chmod(join(ctx, 'Dockerfile'), 0o644);
    const build = await docker(alice, ['build', '-t', 'e2e/ugw-built', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    t.equal(build.code, 0, `alice (builders) builds: ${build.stderr}`);
    t.match(build.stdout, /Successfully built/, 'the build progress stream came through');
    const ran = await docker(alice, ['run', '--rm', 'e2e/ugw-built', 'cat', '/built']);
    t.equal(ran.stdout.trim(), 'built-through-the-gateway');
    const bobBuild = await docker(bob, ['build', '-t', 'e2e/ugw-bob', ctx], { env: { DOCKER_BUILDKIT: '0' } });
    t.not(bobBuild.code, 0);
    t.match(bobBuild.stderr, 'denied by rule only-builders-build', 'bob is not in builders');
  });

  await t.test('hijacked streams, half-close and logs -f go through the gateway', async (t) => {
    const runI = await docker(alice, ['run', '--rm', '-i', BUSYBOX_IMAGE, 'sh', '-c', 'cat; echo stdin-closed'], {
      input: 'line one\nline two\n',
    });
    t.equal(runI.code, 0, runI.stderr);
    t.equal(runI.stdout, 'line one\nline two\nstdin-closed\n', 'run -i: stdin in, EOF passed on (half-close), output back');

    t.equal((await docker(alice, ['run', '-d', '--name', `${alice.name}-long`, BUSYBOX_IMAGE, 'sleep', '300'])).code, 0);
    const execI = await docker(alice, ['exec', '-i', `${alice.name}-long`, 'sh', '-c', 'wc -c; echo done'], { input: 'x'.repeat(100_000) });
    t.equal(execI.code, 0, execI.stderr);
    t.equal(execI.stdout.trim().split(/\s+/).join(' '), '100000 done', 'exec -i: 100000 bytes in, the count and EOF back');

    const name = `${alice.name}-logs`;
    t.equal(
      (await docker(alice, ['run', '-d', '--name', name, BUSYBOX_IMAGE, 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']))
        .code,
      0,
    );
    const follow = await docker(alice, ['logs', '-f', name]);
    t.equal(follow.code, 0, follow.stderr);
    t.equal(follow.stdout, 'line1\nline2\nline3\n', 'logs -f follows to the end of the container');
  });

  await t.test('a reload of the users keeps open connections; a removed user is cut off at once', async (t) => {
    t.equal(
      (
        await docker(bob, [
          'run',
          '-d',
          '--name',
          `${bob.name}-tick`,
          BUSYBOX_IMAGE,
          'sh',
          '-c',
          'while true; do echo tick; sleep 0.2; done',
        ])
      ).code,
      0,
    );
    const aliceStream = spawn('docker', ['logs', '-f', `${alice.name}-long`], {
      uid: alice.uid,
      gid: alice.gid,
      env: { PATH: process.env.PATH, HOME: alice.home, DOCKER_HOST: `unix://${alice.socket}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const aliceDone = new Promise<number | null>((r) => aliceStream.once('close', (code) => r(code)));
    const bobStream = spawn('docker', ['logs', '-f', `${bob.name}-tick`], {
      uid: bob.uid,
      gid: bob.gid,
      env: { PATH: process.env.PATH, HOME: bob.home, DOCKER_HOST: `unix://${bob.socket}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ticks = '';
    bobStream.stdout.on('data', (c: Buffer) => (ticks += c.toString()));
    const bobDone = new Promise<number | null>((r) => bobStream.once('close', (code) => r(code)));
    await pollUntil(() => ticks.includes('tick'), { timeoutMs: 30_000, what: "bob's log stream" });

    const renew = await cli('users', 'renew', alice.name, '--force');
    t.equal(renew.code, 0, renew.stderr);
    t.match(renew.stdout, `${alice.name}: renewed`);
    t.equal(aliceStream.exitCode, null, "alice's open stream survived the reload");
    t.equal((await docker(alice, ['ps'])).code, 0, 'new connections use the renewed certificate');

    const removed = await cli('users', 'remove', bob.name);
    t.equal(removed.code, 0, removed.stderr);
    t.match(removed.stdout, 'socket removed and open connections closed');
    t.match(removed.stdout, 'removed from every group');
    const code = await bobDone;
    t.not(code, null, "bob's open stream was closed");
    t.notOk(existsSync(bob.socket), "bob's socket is gone");
    t.match(await readFile(env.AUTHZ_POLICY!, 'utf8'), /^ {2}viewers: \[\]$/m, 'bob is in no group any more');
    t.equal(aliceStream.exitCode, null, "alice's stream is untouched");
    aliceStream.kill('SIGTERM');
    await aliceDone;
    await d.docker(['rm', '-f', `${bob.name}-tick`]);
  });

  await t.test('1 GiB of container logs streams through the gateway without it growing', async (t) => {
    const name = `${alice.name}-gig`;
    const made = await docker(alice, [
      'run',
      '-d',
      '--name',
      name,
      BUSYBOX_IMAGE,
      'sh',
      '-c',
      `head -c ${GiB} /dev/zero | busybox tr '\\0' a`,
    ]);
    t.equal(made.code, 0, made.stderr);
    const pid = gateway.pid!;
    const vm = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
    const before = vm('VmRSS');
    const logs = await docker(alice, ['logs', '-f', name], { timeoutMs: 540_000 });
    t.equal(logs.code, 0, logs.stderr);
    t.equal(logs.stdoutLength, GiB, 'every byte arrived');
    const peak = vm('VmHWM');
    t.ok(
      peak - before < 64 * MiB,
      `gateway peak RSS ${(peak / MiB).toFixed(1)} MiB, ${((peak - before) / MiB).toFixed(1)} MiB above the start of the stream (bound: 64)`,
    );
    const line = await pollUntil(
      () => gwLines.find((l) => l.msg === 'connection closed' && l.user === alice.name && (l.bytesOut as number) > GiB),
      { timeoutMs: 10_000, what: 'the log line of the 1 GiB connection' },
    );
    t.match(line, { user: alice.name, bytesIn: Number, durationMs: Number }, 'the gateway logged the connection with its byte count');
  });
});
