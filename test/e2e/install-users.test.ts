/**
 * The installer's --users and --audit, run for real as root in a private mount namespace (see
 * helpers/authz-ns.ts and install.test.ts), against a real dockerd started inside it:
 *
 *  - --dry-run --users --audit says up front that dockerd must restart and what that does to
 *    running containers, shows daemon.json's new listener and TLS settings as a diff, and changes
 *    nothing;
 *  - install --users --audit: the policy in audit mode (nothing refused, would-be denials logged),
 *    daemon.json gets "hosts" (the unix socket it had + tcp://127.0.0.1:PORT) and "tlsverify" with
 *    the docker-authz CA, pm2 runs the gateway next to the plugin. dockerd is not under systemd
 *    here, so the installer says to restart it and the test does (dockerd.restart());
 *  - after the restart the TLS listener answers a client certificate of the docker-authz CA and
 *    refuses a caller without one; a Unix user made here and given a socket by `docker-authz users
 *    add` runs the real docker CLI through the gateway and is themselves to the plugin; switching
 *    the policy to enforce (as the installer says) makes the hello gate apply per user;
 *  - a second install changes nothing; the uninstaller puts daemon.json back byte for byte, stops
 *    the gateway, removes the users' certificates and says that the listener lasts until dockerd
 *    restarts, which it then does not survive.
 *
 * systemd is not PID 1 here, so the docker.service drop-in and the installer's own restart are
 * covered by the unit tests of the helper's plan (test/unit/install-helper.test.ts).
 */
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { startAuthzNamespace, snapshotTree, type AuthzNamespace } from './helpers/authz-ns.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { run, type ExecResult } from '../helpers/process.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { importImages } from './helpers/images.js';
import { randomBytes } from 'node:crypto';

const INSTALL = path.join(REPO_ROOT, 'scripts', 'install-authz.sh');
const UNINSTALL = path.join(REPO_ROOT, 'scripts', 'uninstall-authz.sh');
const HELLO_DENIED = /You must say hello first: run "docker run hello-world"/;

function nsEnv(ns: AuthzNamespace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k !== 'NODE_OPTIONS' && !k.startsWith('AUTHZ_') && !k.startsWith('DOCKER_') && !k.startsWith('TAP')) env[k] = v;
  }
  return {
    ...env,
    PATH: `/usr/local/bin:${path.join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    PM2_HOME: ns.pm2Home,
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };
}

const show = (r: ExecResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

async function dockerdInside(ns: AuthzNamespace, config: Record<string, unknown>): Promise<Dockerd> {
  const saved = process.env.PATH;
  process.env.PATH = `${ns.shimDir}:${saved ?? ''}`;
  try {
    return await startDockerd({ config, hostsInConfig: true });
  } finally {
    process.env.PATH = saved;
  }
}

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

async function pm2Apps(ns: AuthzNamespace): Promise<{ name: string; status: string }[]> {
  const r = await ns.exec('pm2', ['jlist'], { env: nsEnv(ns), timeoutMs: 30_000 });
  const list = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { name: string; pm2_env: { status: string } }[];
  return list.map((p) => ({ name: p.name, status: p.pm2_env.status })).sort((a, b) => a.name.localeCompare(b.name));
}

interface Decision {
  msg: string;
  identity: string;
  path: string;
  allow: boolean;
  audit?: boolean;
  rule?: string;
}

/** The plugin's decision lines so far (pm2's log of the app, and of its daemon for a cluster worker). */
async function decisions(ns: AuthzNamespace): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const file of [path.join(ns.pm2Home, 'logs', 'docker-authz-out.log'), path.join(ns.pm2Home, 'pm2.log')]) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const at = line.indexOf('{');
      if (at < 0) continue;
      try {
        const rec = JSON.parse(line.slice(at)) as Decision;
        if (rec.msg === 'decision') out.push(rec);
      } catch {
        // not a log record
      }
    }
  }
  return out;
}

const waitDecision = (ns: AuthzNamespace, what: string, match: (d: Decision) => boolean) =>
  pollUntil(async () => (await decisions(ns)).find(match), { timeoutMs: 15_000, intervalMs: 200, what });

/** GET /_ping over TLS on the loopback, with or without a client certificate. */
function tlsPing(port: number, ca: string, client?: { cert: string; key: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ...client, minVersion: 'TLSv1.2' }, () => {
      s.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('no answer within 10 s')));
  });
}

const isRoot = process.getuid?.() === 0;
// Two installer runs, a dry run, an uninstall and two dockerd restarts.
t.setTimeout(600_000);

t.test('install --users --audit: TLS listener, gateway, users; audit then enforce; uninstall', async (t) => {
  t.ok(isRoot, 'end-to-end tests run as root');
  const started = Date.now();
  let last = started;
  const lap = (what: string) => {
    t.comment(`${what}: ${Date.now() - last} ms`);
    last = Date.now();
  };
  const ns = await startAuthzNamespace();
  const held: { d?: Dockerd } = {};
  t.teardown(async () => {
    if (existsSync(path.join(ns.pm2Home, 'pm2.pid')))
      await ns.exec('pm2', ['kill'], { env: nsEnv(ns), timeoutMs: 30_000 }).catch(() => undefined);
    await held.d?.stop();
    await ns.stop();
  });

  // A Unix user of this host, with a home of their own.
  const user = `iu${randomBytes(3).toString('hex')}`;
  const home = await makeTempDir('iuh-');
  const useradd = await run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', user]);
  t.equal(useradd.code, 0, `useradd ${user}: ${useradd.stderr}`);
  t.teardown(async () => {
    await run('userdel', [user]);
    await run('rm', ['-rf', home]);
  });
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  await chown(home, uid, gid);

  const d = (held.d = await dockerdInside(ns, { labels: ['e2e=keep-me'], debug: false }));
  await importImages(d);
  await symlink(path.join(d.dir, 'docker.pid'), ns.hostPath('/run/docker.pid'));
  const daemonJson = path.join(d.dir, 'daemon.json');
  const originalConfig = await readFile(daemonJson, 'utf8');
  const unixHost = `unix://${d.socket}`;

  // Where dockerd's TLS listener goes, in the installer's env file (which it keeps): a free port,
  // so that tests running side by side do not collide on 2376.
  const port = await freePort();
  const tcp = `tcp://127.0.0.1:${port}`;
  await writeFile(
    ns.hostPath('/etc/docker-authz/authz.env'),
    [
      'AUTHZ_SOCKET=/run/docker/plugins/authz.sock',
      'AUTHZ_POLICY=/etc/docker-authz/policy.yaml',
      'AUTHZ_STATE_DIR=/var/lib/docker-authz',
      'AUTHZ_LOG_LEVEL=info',
      // The plugin reads the daemon's objects (whose each one is) on its unix socket.
      `AUTHZ_DOCKER_HOST=${unixHost}`,
      `AUTHZ_DAEMON_TLS_ADDRESS=127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const pki = (p: string) => ns.hostPath(path.join('/etc/docker-authz/pki', p));

  lap('ready');
  // --- dry run ----------------------------------------------------------------------------------
  const everything = () => snapshotTree(ns.scratch);
  const beforeDry = await everything();
  const dry = await ns.exec('bash', [INSTALL, '--users', '--audit', '--dry-run'], { env: nsEnv(ns) });
  t.equal(dry.code, 0, 'the dry run succeeds', { output: show(dry) });
  t.match(dry.stdout, /NOTE: --users needs a RESTART of dockerd/, 'it says up front that dockerd must restart');
  t.match(dry.stdout, /live-restore is off: the restart STOPS every running container/, 'and what that does to containers');
  t.match(dry.stdout, /dockerd is not run by systemd here: the installer configures it, and you restart it/);
  t.match(dry.stdout, new RegExp(`\\+\\s+"${tcp.replaceAll('.', '\\.')}"`), 'the new listener, as a diff of daemon.json');
  t.match(dry.stdout, /\+\s+"tlsverify": true,/, 'and tlsverify');
  t.match(dry.stdout, /would run: docker-authz users init/, 'the CA and server certificate');
  t.match(
    dry.stdout,
    /would run: env PM2_HOME=\S+ pm2 start \/opt\/docker-authz\/current\/ecosystem\.config\.js --only docker-authz-gateway/,
  );
  t.match(dry.stdout, /would create \/etc\/docker-authz\/policy\.yaml[^\n]*\n(?:\s+.*\n)*?\s+mode: audit\n/, 'a policy in audit mode');
  t.same(await everything(), beforeDry, 'the dry run changed nothing');

  lap('dry run');
  // --- install ----------------------------------------------------------------------------------
  const install = await ns.exec('bash', [INSTALL, '--users', '--audit'], { env: nsEnv(ns) });
  t.equal(install.code, 0, 'install --users --audit succeeds', { output: show(install) });
  t.match(install.stdout, /NOTE: --users needs a RESTART of dockerd/);
  t.match(install.stdout, /dockerd must be RESTARTED to listen on 127\.0\.0\.1:\d+/, 'it ends by saying that dockerd must restart');
  t.match(install.stdout, /The policy is in AUDIT mode/, 'and that the policy audits');
  t.match(install.stdout, /set "mode: enforce" in \/etc\/docker-authz\/policy\.yaml[^\n]*docker-authz reload/, 'and how to enforce');
  t.match(install.stdout, /docker-authz users add NAME/, 'and how to add a user');
  t.match(install.stdout, /kept \/etc\/docker-authz\/authz\.env/);

  const installed = JSON.parse(await readFile(daemonJson, 'utf8')) as Record<string, unknown>;
  t.same(
    installed,
    {
      hosts: [unixHost, tcp],
      labels: ['e2e=keep-me'],
      debug: false,
      'authorization-plugins': ['authz'],
      tlsverify: true,
      tlscacert: '/etc/docker-authz/pki/ca.pem',
      tlscert: '/etc/docker-authz/pki/server-cert.pem',
      tlskey: '/etc/docker-authz/pki/server-key.pem',
    },
    'daemon.json: the unix socket it had and the TLS listener, tlsverify with the docker-authz CA; other keys kept',
  );
  for (const f of ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem'])
    t.equal((await stat(pki(f))).mode & 0o777, 0o600, `${f} exists, root-only`);
  const policy = await readFile(ns.hostPath('/etc/docker-authz/policy.yaml'), 'utf8');
  t.match(
    policy,
    /^version: 1\n\nmode: audit\n# \^ installed with --audit[^]*?docker-authz reload\.\n/m,
    'the policy says mode: audit, and how to switch',
  );
  t.equal(
    policy.replace(/\n\nmode: audit\n# \^ installed with --audit[^]*?docker-authz reload\.\n/, '\n'),
    await readFile(path.join(REPO_ROOT, 'policy', 'default.yaml'), 'utf8'),
    'and is otherwise the default policy',
  );
  const record = await readFile(ns.hostPath('/opt/docker-authz/installed.env'), 'utf8');
  t.match(record, /^USERS=1$/m, 'the install record has the users');
  t.match(record, /^USERS_DAEMON_JSON=\{.*"before":\{"hosts":\[.*\],"tlsverify":null/m, 'and what daemon.json had before');
  t.same(
    await pm2Apps(ns),
    [
      { name: 'docker-authz', status: 'online' },
      { name: 'docker-authz-gateway', status: 'online' },
    ],
    'pm2 runs the plugin and the gateway',
  );

  lap('install');
  // --- audit mode: nothing refused, would-be denials logged ---------------------------------------
  const ps = await d.docker(['ps']);
  t.equal(ps.code, 0, `root's docker ps without a hello is let through (${ps.stderr.trim()})`);
  const audited = await waitDecision(ns, 'an audit decision', (x) => x.path.includes('/containers/json') && x.audit === true);
  t.match(audited, { identity: '@anonymous', allow: true, rule: 'hello' }, 'and logged as what the hello gate would have refused');

  lap('audit checks');
  // --- the restart the installer asked for --------------------------------------------------------
  const pidBefore = d.pid;
  await d.restart();
  t.not(d.pid, pidBefore, 'dockerd restarted');
  const ca = await readFile(pki('ca.pem'), 'utf8');
  await t.rejects(tlsPing(port, ca), 'without a client certificate the TLS listener refuses the caller');

  lap('restart');
  // --- a user ---------------------------------------------------------------------------------------
  const add = await ns.exec('docker-authz', ['users', 'add', user], { env: nsEnv(ns), timeoutMs: 60_000 });
  t.equal(add.code, 0, `docker-authz users add ${user}`, { output: show(add) });
  const socket = `/run/docker-authz/users/${user}.sock`;
  t.match(add.stdout, `export DOCKER_HOST=unix://${socket}`, 'it prints the line the user needs');
  t.match(add.stdout, 'the gateway serves');
  const sock = await stat(ns.hostPath(socket));
  t.ok(sock.isSocket() && sock.uid === uid && (sock.mode & 0o777) === 0o600, "the user's socket is theirs, mode 0600");

  const pong = await tlsPing(port, ca, {
    cert: await readFile(pki(`users/${user}/cert.pem`), 'utf8'),
    key: await readFile(pki(`users/${user}/key.pem`), 'utf8'),
  });
  t.match(pong, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/, 'with a client certificate of the docker-authz CA the TLS listener answers');

  // The real docker CLI, as the user, inside the namespace (where /run/docker-authz is).
  const asUser = (args: string[]) =>
    run('nsenter', ['-t', String(ns.pid), '-m', '-S', String(uid), '-G', String(gid), '--', 'docker', ...args], {
      env: { PATH: process.env.PATH, HOME: home, USER: user, DOCKER_HOST: `unix://${socket}`, DOCKER_CLI_HINTS: 'false' },
      cwd: home,
      timeoutMs: 60_000,
    });
  const version = await asUser(['version', '--format', '{{.Server.Version}}']);
  t.equal(version.code, 0, `docker version through the gateway (${version.stderr.trim()})`);
  t.match(version.stdout, /^\d+\.\d+/);
  const userPs = await asUser(['ps']);
  t.equal(userPs.code, 0, `the user's docker ps (audit mode) (${userPs.stderr.trim()})`);
  await waitDecision(ns, `a decision for ${user}`, (x) => x.identity === user && x.path.includes('/containers/json'));
  t.pass(`the plugin sees ${user}, not @anonymous`);

  lap('user');
  // --- enforce, as the installer says -----------------------------------------------------------------
  const policyFile = ns.hostPath('/etc/docker-authz/policy.yaml');
  await writeFile(`${policyFile}.new`, policy.replace(/^mode: audit$/m, 'mode: enforce'));
  await run('mv', [`${policyFile}.new`, policyFile]);
  const reload = await ns.exec('docker-authz', ['reload'], { env: nsEnv(ns), timeoutMs: 30_000 });
  t.equal(reload.code, 0, `docker-authz reload (${reload.stderr.trim()})`);
  const refused = await asUser(['ps']);
  t.not(refused.code, 0, 'enforced: the user has not said hello');
  t.match(refused.stderr, HELLO_DENIED);
  const hello = await asUser(['run', '--rm', 'hello-world']);
  t.equal(hello.code, 0, `the user says hello through the gateway (${hello.stderr.trim()})`);
  t.equal((await asUser(['ps'])).code, 0, 'and is let in');
  t.match((await d.docker(['ps'])).stderr, HELLO_DENIED, "the user's hello is theirs: root (@anonymous) has not said hello");

  lap('enforce');
  // --- again: nothing changes, no restart needed ----------------------------------------------------
  const configBefore = await readFile(daemonJson, 'utf8');
  const again = await ns.exec('bash', [INSTALL], { env: nsEnv(ns) });
  t.equal(again.code, 0, 'a second install (no options) succeeds', { output: show(again) });
  t.match(again.stdout, /nothing changed/, 'and changes nothing');
  t.match(again.stdout, /dockerd already listens on 127\.0\.0\.1:\d+ with the docker-authz CA/, 'it keeps the users');
  t.notMatch(again.stdout, /RESTART/, 'no restart needed');
  t.equal(await readFile(daemonJson, 'utf8'), configBefore, 'daemon.json unchanged');

  lap('second install');
  // --- uninstall ----------------------------------------------------------------------------------------
  const un = await ns.exec('bash', [UNINSTALL], { env: nsEnv(ns) });
  t.equal(un.code, 0, 'uninstall succeeds', { output: show(un) });
  t.match(un.stdout, /no longer consults the plugin/);
  t.match(un.stdout, new RegExp(`removed the certificates of: ${user}`), "it removed the users' certificates, and says whose");
  t.match(un.stdout, /dockerd still listens on 127\.0\.0\.1:\d+ until it restarts/, 'and that the listener lasts until a restart');
  t.equal(await readFile(daemonJson, 'utf8'), originalConfig, 'daemon.json byte for byte as before the install');
  t.same(await pm2Apps(ns), [], 'pm2 runs neither the plugin nor the gateway');
  t.notOk(existsSync(pki('.')), 'the PKI is gone');
  t.notOk(existsSync(ns.hostPath('/run/docker-authz')), "and the gateway's runtime directory");
  t.ok(existsSync(ns.hostPath('/etc/docker-authz/policy.yaml')), 'the policy is kept');
  t.equal((await d.docker(['ps'])).code, 0, 'root uses docker without the plugin');

  lap('uninstall');
  await d.restart();
  await t.rejects(tlsPing(port, ca), { code: 'ECONNREFUSED' }, 'after the restart nothing listens on the TLS port');
  t.equal((await d.docker(['ps'])).code, 0, "root's unix socket is as before");
  t.same(
    (await readdir(d.dir)).filter((n) => n.startsWith('daemon.json.bak-docker-authz-')).length > 0,
    true,
    'the daemon.json backups are kept (removed by --purge)',
  );
  t.comment(`whole test ${Date.now() - started} ms`);
});

t.test('--users refuses a dockerd started with -H flags, before changing anything', async (t) => {
  t.ok(isRoot, 'end-to-end tests run as root');
  const ns = await startAuthzNamespace();
  t.teardown(() => ns.stop());
  await mkdir(ns.hostPath('/etc/docker'), { recursive: true });
  await writeFile(ns.hostPath('/etc/docker/daemon.json'), '{}\n');
  // A stand-in whose command line has a listener flag (the installer reads /proc/PID/cmdline).
  const { spawn } = await import('node:child_process');
  const fake = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', 'dockerd', '-H', 'unix:///run/other.sock'], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH },
  });
  t.teardown(() => {
    fake.kill('SIGKILL');
  });
  await writeFile(ns.hostPath('/run/docker.pid'), `${fake.pid}\n`);
  await pollUntil(async () => (await readFile(`/proc/${fake.pid}/cmdline`, 'utf8')).includes('other.sock'), {
    timeoutMs: 5_000,
    what: 'the stand-in to start',
  });
  const before = await snapshotTree(ns.scratch);
  const r = await ns.exec('bash', [INSTALL, '--users'], { env: nsEnv(ns) });
  t.equal(r.code, 1, 'the installer fails', { output: show(r) });
  t.match(r.stderr, /dockerd was started with -H unix:\/\/\/run\/other\.sock on its command line/, 'says why');
  t.match(r.stderr, /Put "hosts": \["unix:\/\/\/run\/other\.sock"\] into \/etc\/docker\/daemon\.json/, 'and what to do');
  t.match(r.stderr, /nothing was changed/);
  t.same(await snapshotTree(ns.scratch), before, 'nothing changed');
});
