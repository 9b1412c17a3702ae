/**
 * The real install and uninstall scripts, run as root inside a private mount namespace whose
 * /etc/docker, /run, /opt/docker-authz, /etc/docker-authz, /var/lib/docker-authz and /usr/local/bin
 * are scratch directories, against a real dockerd started inside that namespace (see
 * helpers/authz-ns.ts). The host's files are never touched.
 *
 * The installer finds the daemon the way it does on a host: the pid in /var/run/docker.pid (here a
 * symlink to the pidfile the harness's dockerd writes), then the daemon's own command line for its
 * --config-file and -H unix:// socket. pm2 is the supervisor (systemd is not PID 1 here), with a
 * private PM2_HOME; npm installs from the local cache (npm_config_offline).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { STATE_FILE } from '../../src/state/db.js';
import { startAuthzNamespace, snapshotTree, type AuthzNamespace } from './helpers/authz-ns.js';
import { REPO_ROOT } from '../helpers/paths.js';
import type { ExecResult } from '../helpers/process.js';
import { pollUntil } from '../helpers/wait.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { importImages } from './helpers/images.js';

const INSTALL = path.join(REPO_ROOT, 'scripts', 'install-authz.sh');
const UNINSTALL = path.join(REPO_ROOT, 'scripts', 'uninstall-authz.sh');
const HELLO_DENIED = /You must say hello first: run "docker run hello-world"/;

function nsEnv(ns: AuthzNamespace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // no test-runner loader, no AUTHZ_* or DOCKER_* from the caller
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

/** Starts the harness's dockerd inside the namespace (its `dockerd` shim enters the namespace). */
async function dockerdInside(ns: AuthzNamespace, config: Record<string, unknown>): Promise<Dockerd> {
  const saved = process.env.PATH;
  process.env.PATH = `${ns.shimDir}:${saved ?? ''}`;
  try {
    return await startDockerd({ config });
  } finally {
    process.env.PATH = saved;
  }
}

async function pm2Apps(ns: AuthzNamespace): Promise<{ name: string; pid: number; status: string }[]> {
  const r = await ns.exec('pm2', ['jlist'], { env: nsEnv(ns), timeoutMs: 30_000 });
  const text = r.stdout.slice(r.stdout.indexOf('['));
  const list = JSON.parse(text) as { name: string; pid: number; pm2_env: { status: string } }[];
  return list.map((p) => ({ name: p.name, pid: p.pid, status: p.pm2_env.status }));
}

const isRoot = process.getuid?.() === 0;
// Three real installer runs against a real dockerd and pm2, two uninstalls and three refusals: about
// two minutes alone, more than tap's 300 s default on a loaded machine.
t.setTimeout(600_000);

t.test('install, hello gate, idempotent reinstall, policy edit, uninstall, purge', async (t) => {
  t.ok(isRoot, 'end-to-end tests run as root');
  const started = Date.now();
  const ns = await startAuthzNamespace();
  const started_: { d?: Dockerd } = {};
  t.teardown(async () => {
    // pm2 first (its daemon lives in the namespace and serves the plugin), then dockerd, then the namespace.
    if (existsSync(path.join(ns.pm2Home, 'pm2.pid')))
      await ns.exec('pm2', ['kill'], { env: nsEnv(ns), timeoutMs: 30_000 }).catch(() => undefined);
    await started_.d?.stop();
    await ns.stop();
  });

  const d = (started_.d = await dockerdInside(ns, { labels: ['e2e=keep-me'], debug: false }));
  t.equal(await readlink(`/proc/${d.pid}/ns/mnt`), await readlink(`/proc/${ns.pid}/ns/mnt`), 'dockerd runs inside the namespace');
  await importImages(d); // before authz: the gate would refuse the imports
  // The host's default pidfile location, inside the namespace: what the installer looks at.
  await symlink(path.join(d.dir, 'docker.pid'), ns.hostPath('/run/docker.pid'));

  const daemonJson = path.join(d.dir, 'daemon.json');
  const originalConfig = await readFile(daemonJson, 'utf8');
  const trees = ['/etc/docker', '/opt/docker-authz', '/etc/docker-authz', '/var/lib/docker-authz', '/usr/local/bin'];
  // The running plugin writes its database (state.db, -wal, -shm) all along: that is not the installer's.
  const live = (tree: string) => (rel: string) => tree === '/var/lib/docker-authz' && rel.startsWith(STATE_FILE);
  const snap = async () => {
    const all: Record<string, Record<string, string>> = {};
    for (const tree of trees) all[tree] = await snapshotTree(ns.hostPath(tree), live(tree));
    return all;
  };
  const before = await snap();
  const backups = async () => (await readdir(d.dir)).filter((n) => n.startsWith('daemon.json.bak-docker-authz-')).sort();

  // --- install ----------------------------------------------------------------------------------
  const installStarted = Date.now();
  const install = await ns.exec('bash', [INSTALL], { env: nsEnv(ns) });
  t.comment(`install took ${Date.now() - installStarted} ms`);
  t.equal(install.code, 0, 'install succeeds', { output: show(install) });
  t.match(install.stdout, /dockerd consults it/, 'the installer verified that dockerd consults the plugin');
  t.match(install.stdout, /docker run hello-world/, 'and says what to do next');
  t.notMatch(install.stdout + install.stderr, /\[PM2\]|[│┌└]/, "pm2's banners and tables stay out of the installer's output");
  t.match(install.stdout, /pm2 does not start at boot on this host/, 'no init system here: it says pm2 will not start at boot');
  t.match(install.stdout, /^ {2}PM2_HOME=\S+ \S*pm2 resurrect$/m, 'and exactly what to run at boot instead');
  t.match(
    install.stdout,
    /production dependencies copied from \S+\/node_modules/,
    'dependencies come from the build, without npm or network',
  );
  t.match(install.stdout, /better-sqlite3: its native addon loads in node/, "the native addon is the build's, not recompiled");

  const installed = JSON.parse(await readFile(daemonJson, 'utf8')) as Record<string, unknown>;
  t.same(
    installed,
    { labels: ['e2e=keep-me'], debug: false, 'authorization-plugins': ['authz'] },
    'daemon.json: key merged, other keys kept',
  );
  const bak = await backups();
  t.equal(bak.length, 1, 'one backup of the old daemon.json');
  t.equal(await readFile(path.join(d.dir, bak[0]!), 'utf8'), originalConfig, 'the backup is the old file');
  t.equal(
    await readFile(ns.hostPath('/etc/docker/plugins/authz.spec'), 'utf8'),
    'unix:///run/docker/plugins/authz.sock\n',
    'plugin spec file',
  );
  t.equal(
    await readFile(ns.hostPath('/etc/docker-authz/policy.yaml'), 'utf8'),
    await readFile(path.join(REPO_ROOT, 'policy', 'default.yaml'), 'utf8'),
    'the commented default policy is installed',
  );
  t.match(
    await readFile(ns.hostPath('/etc/docker-authz/authz.env'), 'utf8'),
    /^AUTHZ_POLICY=\/etc\/docker-authz\/policy\.yaml$/m,
    'authz.env points at it',
  );
  t.equal(await readlink(ns.hostPath('/usr/local/bin/docker-authz')), '/opt/docker-authz/bin/docker-authz', 'docker-authz on the PATH');
  const current = await readlink(ns.hostPath('/opt/docker-authz/current'));
  t.match(current, /^releases\/0\.\d+\.\d+-[0-9a-f]{12}$/, 'current points at a release');
  const release = ns.hostPath(`/opt/docker-authz/${current}`);
  t.ok(existsSync(path.join(release, 'dist', 'cli.js')), 'the release has the build');
  t.ok(existsSync(path.join(release, 'node_modules', 'pino')), 'and its runtime dependencies');
  t.notOk(existsSync(path.join(release, 'node_modules', 'typescript')), 'but no dev dependencies');
  const sqlite = await ns.exec(
    'sh',
    [
      '-c',
      'cd /opt/docker-authz/current && exec node -e "$1"',
      'sh',
      "const D = require('better-sqlite3'); process.stdout.write(String(new D(':memory:').prepare('select 1 as one').get().one))",
    ],
    { env: nsEnv(ns), timeoutMs: 30_000 },
  );
  t.equal(sqlite.stdout, '1', `the installed release loads its native better-sqlite3 (${sqlite.stderr.trim()})`);
  const record = await readFile(ns.hostPath('/opt/docker-authz/installed.env'), 'utf8');
  t.match(record, /^SUPERVISOR=pm2$/m, 'the install record is plain KEY=value lines');
  t.match(record, new RegExp(`^DAEMON_JSON=${daemonJson.replaceAll('.', '\\.')}$`, 'm'));
  t.ok(existsSync(ns.hostPath('/var/lib/docker-authz')), 'state dir exists');
  const apps = await pm2Apps(ns);
  t.match(apps, [{ name: 'docker-authz', status: 'online' }], 'pm2 runs the plugin');

  // --- the gate, through the daemon ----------------------------------------------------------------
  const ps1 = await d.docker(['ps']);
  t.not(ps1.code, 0, 'docker ps is refused before saying hello');
  t.match(ps1.stderr, HELLO_DENIED, `with the hello message (${ps1.stderr.trim()})`);
  const hello = await d.docker(['run', '--rm', 'hello-world']);
  t.equal(hello.code, 0, `docker run hello-world works (${hello.stderr.trim()})`);
  t.match(hello.stdout, /Hello from Docker!/);
  const ps2 = await d.docker(['ps']);
  t.equal(ps2.code, 0, `docker ps works after hello (${ps2.stderr.trim()})`);

  // --- again: nothing changes ------------------------------------------------------------------------
  const mid = await snap();
  const pidBefore = apps[0]?.pid;
  const again = await ns.exec('bash', [INSTALL], { env: nsEnv(ns) });
  t.equal(again.code, 0, 'second install succeeds', { output: show(again) });
  t.match(again.stdout, /nothing changed/, 'and says nothing changed');
  t.same(await snap(), mid, 'no file changed in any installed tree');
  t.equal(await readFile(daemonJson, 'utf8'), JSON.stringify(installed, null, 2) + '\n', 'daemon.json unchanged');
  t.same(await backups(), bak, 'no new backup');
  t.equal((await pm2Apps(ns))[0]?.pid, pidBefore, 'the plugin was not restarted');

  // --- the installed command, and a policy edit picked up by the watcher ----------------------------
  const reload = await ns.exec('docker-authz', ['reload'], { env: nsEnv(ns), timeoutMs: 30_000 });
  t.equal(reload.code, 0, `docker-authz reload (${reload.stderr.trim()})`);
  t.equal(reload.stdout.trim(), 'policy reloaded from /etc/docker-authz/policy.yaml');
  const policyFile = ns.hostPath('/etc/docker-authz/policy.yaml');
  const policyText = await readFile(policyFile, 'utf8');
  const edited = policyText.replace(
    /^rules:\n/m,
    'rules:\n  - id: e2e-no-image-list\n    kind: operations\n    effect: deny\n    operations: [image.list]\n',
  );
  t.not(edited, policyText, 'the edit applies');
  await writeFile(`${policyFile}.new`, edited);
  await rename(`${policyFile}.new`, policyFile); // as an editor or config management would
  const denied = await pollUntil(
    async () => {
      const r = await d.docker(['images']);
      return r.code !== 0 ? r : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200, what: 'the edited policy to deny docker images' },
  );
  t.match(denied.stderr, /e2e-no-image-list/, 'the edited policy is in force without a restart');
  t.equal((await d.docker(['ps'])).code, 0, 'the greeting survived the reload');
  await writeFile(`${policyFile}.new`, policyText);
  await rename(`${policyFile}.new`, policyFile);
  await pollUntil(async () => (await d.docker(['images'])).code === 0, {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: 'the original policy again',
  });

  // --- uninstall (keeps policy and state) -----------------------------------------------------------------
  // The record is parsed, never run: shell in it stays text (also where a value is used as a number).
  const marker = path.join(ns.scratch, 'record-was-run');
  await writeFile(
    ns.hostPath('/opt/docker-authz/installed.env'),
    `${record}CREATED_DAEMON_JSON=a[$(touch ${marker})]\nX=\`touch ${marker}\`\n$(touch ${marker})\n`,
  );
  const un = await ns.exec('bash', [UNINSTALL], { env: nsEnv(ns) });
  t.notOk(existsSync(marker), 'the uninstaller did not execute anything in the install record');
  t.equal(un.code, 0, 'uninstall succeeds', { output: show(un) });
  t.match(un.stdout, /no longer consults the plugin/, 'it checked that dockerd stopped consulting the plugin before stopping it');
  t.same(JSON.parse(await readFile(daemonJson, 'utf8')), JSON.parse(originalConfig), 'daemon.json is back to the original');
  t.same(await pm2Apps(ns), [], 'pm2 no longer runs the plugin');
  t.notOk(existsSync(ns.hostPath('/run/docker/plugins/authz.sock')), 'no plugin socket');
  t.notOk(existsSync(ns.hostPath('/etc/docker/plugins/authz.spec')), 'no spec file');
  t.same(await snapshotTree(ns.hostPath('/opt/docker-authz')), {}, '/opt/docker-authz is empty');
  t.notOk(existsSync(ns.hostPath('/usr/local/bin/docker-authz')), 'no docker-authz command');
  t.equal(await readFile(policyFile, 'utf8'), policyText, 'policy kept');
  t.ok(existsSync(ns.hostPath('/etc/docker-authz/authz.env')), 'authz.env kept');
  t.ok(existsSync(ns.hostPath(`/var/lib/docker-authz/${STATE_FILE}`)), 'hello state kept');
  const ps3 = await d.docker(['ps']);
  t.equal(ps3.code, 0, `docker ps works without the plugin (${ps3.stderr.trim()})`);
  const run = await d.docker(['run', '--rm', 'e2e/busybox', 'echo', 'still works']);
  t.equal(run.stdout, 'still works\n', 'containers run without authorization');

  // --- purge: back to exactly what was there ---------------------------------------------------------------
  const purge = await ns.exec('bash', [UNINSTALL, '--purge'], { env: nsEnv(ns) });
  t.equal(purge.code, 0, 'uninstall --purge succeeds', { output: show(purge) });
  t.same(await snap(), before, 'no stray files in any tree the installer touched');
  t.same(await backups(), [], 'the installer backups are gone');
  t.equal(await readFile(daemonJson, 'utf8'), originalConfig, 'daemon.json byte for byte as before');
  t.equal(d.exitStatus(), undefined, 'dockerd ran throughout (reloads only, never a restart)');
  t.comment(`whole test ${Date.now() - started} ms`);
});

t.test('the installer stops without touching anything', async (t) => {
  t.ok(isRoot, 'end-to-end tests run as root');
  const ns = await startAuthzNamespace();
  t.teardown(() => ns.stop());
  const everything = () => snapshotTree(ns.scratch);

  await t.test('on a malformed daemon.json', async (t) => {
    await writeFile(ns.hostPath('/etc/docker/daemon.json'), '{ "debug": true,, }\n');
    const before = await everything();
    const r = await ns.exec('bash', [INSTALL], { env: nsEnv(ns) });
    t.equal(r.code, 1, 'the installer fails', { output: show(r) });
    t.match(r.stderr, /\/etc\/docker\/daemon\.json is not valid JSON/, 'with a clear message');
    t.match(r.stderr, /nothing was changed/);
    t.same(await everything(), before, 'nothing changed (no files, no pm2 daemon)');
  });

  await t.test('when dockerd runs with the --authorization-plugin flag', async (t) => {
    await writeFile(ns.hostPath('/etc/docker/daemon.json'), '{}\n');
    // A stand-in whose command line carries the flag (the installer reads /proc/PID/cmdline).
    const { spawn } = await import('node:child_process');
    const fake = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', 'dockerd', '--authorization-plugin=authz'], {
      stdio: 'ignore',
      env: { PATH: process.env.PATH },
    });
    t.teardown(() => {
      fake.kill('SIGKILL');
    });
    await writeFile(ns.hostPath('/run/docker.pid'), `${fake.pid}\n`);
    await pollUntil(async () => (await readFile(`/proc/${fake.pid}/cmdline`, 'utf8')).includes('--authorization-plugin'), {
      timeoutMs: 5_000,
      what: 'the stand-in to start',
    });
    const before = await everything();
    const r = await ns.exec('bash', [INSTALL], { env: nsEnv(ns) });
    t.equal(r.code, 1, 'the installer fails', { output: show(r) });
    t.match(r.stderr, /configured with the --authorization-plugin flag; refusing to continue/, 'says why');
    t.match(r.stderr, /silently turns\s+authorization OFF/, 'and why it matters');
    t.same(await everything(), before, 'nothing changed');
  });

  await t.test('--dry-run prints the changes and makes none', async (t) => {
    await writeFile(ns.hostPath('/run/docker.pid'), '');
    await writeFile(ns.hostPath('/etc/docker/daemon.json'), '{\n  "debug": true\n}\n');
    const before = await everything();
    const r = await ns.exec('bash', [INSTALL, '--dry-run'], { env: nsEnv(ns) });
    t.equal(r.code, 0, 'dry run succeeds', { output: show(r) });
    t.match(r.stdout, /would create \/opt\/docker-authz\/releases\//, 'the release');
    t.match(r.stdout, /would create \/etc\/docker-authz\/policy\.yaml/, 'the policy');
    t.match(r.stdout, /would create \/etc\/docker\/plugins\/authz\.spec/, 'the spec file');
    t.match(r.stdout, /would run: env PM2_HOME=\S+ pm2 start \/opt\/docker-authz\/current\/ecosystem\.config\.js/, 'starting pm2');
    t.match(r.stdout, /\+\s+"authorization-plugins": \[\n\s+\+\s+"authz"/, 'the daemon.json change as a diff');
    t.match(
      r.stdout,
      /would create \/opt\/docker-authz\/installed\.env \(mode 0644, \d+ bytes\):\n\s+SUPERVISOR=pm2\n/,
      'the install record, with its content',
    );
    t.match(
      r.stdout,
      /would create \/opt\/docker-authz\/bin\/docker-authz \(mode 0755, \d+ bytes\):\n\s+#!\/bin\/sh\n/,
      'the launcher, with its content',
    );
    t.same(await everything(), before, 'nothing changed');
  });
});
