/**
 * The systemd units in systemd/:
 *  - `systemd-analyze verify` accepts them with no warning at all (unknown keys and bad values are
 *    only warnings, so stderr must be empty too). The verifier also insists that ExecStart exists:
 *    the units name /opt/docker-authz/..., which exists only after an install, so they are verified
 *    as a temporary copy with that prefix rewritten to a temp dir holding a stub launcher.
 *  - `systemd-analyze security --offline` rates the hardening.
 *  - what they say matches what the installer and the plugin use (socket path, launcher, ordering).
 *  - socket activation: systemd-socket-activate (systemd's own tool, no PID 1 needed) holds the
 *    socket and hands it to the real plugin on the first connection, as docker-authz.socket does.
 * Running the units under a real systemd is not possible on this CI host (systemd is not PID 1).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { unixRequest } from '../helpers/http.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = join(ROOT, 'systemd');
const unitText = (name: string) => readFileSync(join(UNITS, name), 'utf8');

/** `Key=value` lines of one section (comments dropped); repeated keys keep every value. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function verifiableCopy(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = join(dir, 'opt');
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  mkdirSync(join(prefix, 'current'));
  writeFileSync(join(prefix, 'bin', 'docker-authz'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(prefix, 'bin', 'docker-authz'), 0o755);
  for (const unit of ['docker-authz.socket', 'docker-authz.service', 'docker-authz-gateway.service']) {
    writeFileSync(join(dir, unit), unitText(unit).replaceAll('/opt/docker-authz', prefix));
  }
  return dir;
}

t.test(
  'systemd-analyze verify accepts the units without a warning',
  { skip: !hasAnalyze && 'systemd-analyze not installed' },
  async (t) => {
    const dir = verifiableCopy(t);
    const units = ['docker-authz.socket', 'docker-authz.service', 'docker-authz-gateway.service'].map((u) => join(dir, u));
    const r = spawnSync('systemd-analyze', ['verify', ...units], {
      encoding: 'utf8',
    });
    t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
    t.equal(r.stderr.trim(), '', 'no warnings');

    // The check can fail: a misspelt key and a missing launcher are reported.
    writeFileSync(
      join(dir, 'broken.service'),
      unitText('docker-authz.service')
        .replace('RestrictRealtime=', 'RestrictRealtyme=')
        .replaceAll('/opt/docker-authz', join(dir, 'missing')),
    );
    const bad = spawnSync('systemd-analyze', ['verify', join(dir, 'broken.service')], { encoding: 'utf8' });
    t.match(bad.stderr, /Unknown key.*RestrictRealtyme/, 'a misspelt key is reported');
    t.match(bad.stderr, /is not executable/, 'a missing ExecStart is reported');
  },
);

t.test('the hardening rates well in systemd-analyze security', { skip: !hasAnalyze && 'systemd-analyze not installed' }, async (t) => {
  const dir = verifiableCopy(t);
  for (const unit of ['docker-authz.service', 'docker-authz-gateway.service']) {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', join(dir, unit)], { encoding: 'utf8' });
    const level = new RegExp(`Overall exposure level for ${unit.replaceAll('.', '\\.')}: ([\\d.]+)`).exec(r.stdout);
    t.ok(level, `${unit}: an overall exposure level is reported`, { stdout: r.stdout, stderr: r.stderr });
    t.ok(Number(level?.[1]) <= 3, `${unit}: exposure ${level?.[1]} is at most 3.0 ("OK" in systemd's scale; 10 is unhardened)`);
  }
});

t.test('the units agree with the plugin and the installer', async (t) => {
  const socket = section(unitText('docker-authz.socket'), 'Socket');
  const sunit = section(unitText('docker-authz.socket'), 'Unit');
  const service = section(unitText('docker-authz.service'), 'Service');
  const unit = section(unitText('docker-authz.service'), 'Unit');
  const install = section(unitText('docker-authz.service'), 'Install');
  const defaults = loadConfig({});
  t.same(socket.get('ListenStream'), [defaults.socket], 'the socket unit listens where the plugin and the spec file expect it');
  t.equal(defaults.pluginName, 'authz', 'which dockerd knows as "authz"');
  t.same(socket.get('SocketMode'), ['0600'], 'root-only socket');
  t.same(socket.get('RemoveOnStop'), ['yes'], 'no dead socket left behind when the socket unit stops');
  t.same(
    section(unitText('docker-authz.socket'), 'Install').get('WantedBy'),
    ['sockets.target'],
    'socket exists early at boot (sockets.target precedes docker.service)',
  );
  t.ok(sunit.get('Before')?.includes('docker.service'), 'socket ordered before docker.service');
  t.ok(unit.get('Before')?.includes('docker.service'), 'service ordered before docker.service');
  t.same(unit.get('Requires'), ['docker-authz.socket'], 'service requires its socket');
  t.same(service.get('Restart'), ['always'], 'Restart=always');
  t.same(unit.get('StartLimitIntervalSec'), ['0'], 'never stops restarting');
  t.same(service.get('ExecStart'), ['/opt/docker-authz/bin/docker-authz serve'], 'runs the installed launcher');
  t.same(
    service.get('ExecReload'),
    ['/opt/docker-authz/bin/docker-authz reload'],
    'ExecReload is the policy reload (fails when the policy is rejected)',
  );
  t.same(install.get('WantedBy'), ['multi-user.target']);
  t.notOk(service.has('MemoryDenyWriteExecute'), 'no MemoryDenyWriteExecute (V8 needs W+X pages)');
  t.same(service.get('RestrictAddressFamilies'), ['AF_UNIX'], 'unix sockets only');
  t.same(service.get('StateDirectory'), ['docker-authz'], 'state dir /var/lib/docker-authz is writable');
  t.same(service.get('LimitNOFILE'), ['65536'], 'an explicit open-file limit (soft and hard), not the distribution default');

  const lib = readFileSync(join(ROOT, 'scripts', 'authz-lib.sh'), 'utf8');
  t.match(lib, /^readonly APP_DIR=\/opt\/docker-authz$/m, 'the installer installs under /opt/docker-authz');
  t.match(
    lib,
    new RegExp(`^readonly PLUGIN_SOCKET=${defaults.socket.replaceAll('/', '\\/').replaceAll('.', '\\.')}$`, 'm'),
    'and registers the same socket',
  );
  t.match(lib, /^readonly STATE_DIR=\/var\/lib\/docker-authz$/m, 'and uses the same state dir');

  // The user gateway: the unit's built-in paths are the defaults the installer and the CLI use.
  const gateway = section(unitText('docker-authz-gateway.service'), 'Service');
  t.same(gateway.get('ExecStart'), ['/opt/docker-authz/bin/docker-authz gateway'], 'the gateway unit runs the installed launcher');
  t.same(gateway.get('RuntimeDirectory'), ['docker-authz docker-authz/users']);
  t.equal(defaults.usersSocketDir, '/run/docker-authz/users', "where the CLI expects the users' sockets");
  t.equal(defaults.gatewaySocket, '/run/docker-authz/gateway.sock');
  t.same(gateway.get('ConfigurationDirectory'), ['docker-authz/pki']);
  t.equal(defaults.pkiDir, '/etc/docker-authz/pki', 'the PKI the unit may write to');
  t.match(lib, /^readonly GATEWAY_UNIT=docker-authz-gateway\.service$/m, 'the installer installs that unit');
  t.match(lib, /^readonly GATEWAY_RUN_DIR=\/run\/docker-authz$/m);
  t.match(lib, /^readonly DEFAULT_PKI_DIR=\$CONF_DIR\/pki$/m);
});

// The unit's LimitNOFILE sets soft and hard limit alike; under pm2 only the hard limit the pm2 daemon
// was started with is given. Either way the plugin gets the hard limit, because node raises its soft
// RLIMIT_NOFILE to the hard one at start (docs/operations.md relies on this).
t.test(
  'the plugin runs with its soft open-file limit raised to the hard limit',
  { skip: !existsSync('/usr/bin/prlimit') && 'prlimit not installed' },
  async (t) => {
    const script = "process.stdout.write(require('fs').readFileSync('/proc/self/limits', 'utf8'))";
    const r = spawnSync('prlimit', ['--nofile=256:2048', process.execPath, '-e', script], { encoding: 'utf8' });
    t.equal(r.status, 0, 'prlimit ran node', { stderr: r.stderr });
    const limits = /^Max open files\s+(\d+)\s+(\d+)/m.exec(r.stdout);
    t.same(limits?.slice(1), ['2048', '2048'], 'started with 256 (soft) and 2048 (hard), node runs with 2048 for both');
  },
);

// What docker-authz.socket does at boot: systemd holds the socket; the first connection starts the
// service with the listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID=its pid).
t.test(
  'socket activation: the plugin serves the socket it is handed',
  { skip: !existsSync('/usr/bin/systemd-socket-activate') && 'systemd-socket-activate not installed' },
  async (t) => {
    const cli = join(ROOT, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error('dist/cli.js missing: run npm run build');
    const dir = mkdtempSync(join(tmpdir(), 'sa-'));
    const sock = join(dir, 'authz.sock');
    const policy = join(dir, 'policy.yaml');
    copyFileSync(join(ROOT, 'policy', 'default.yaml'), policy);
    const child = spawn(
      'systemd-socket-activate',
      [
        '-l',
        sock,
        '-E',
        `AUTHZ_SOCKET=${sock}`,
        '-E',
        `AUTHZ_STATE_DIR=${join(dir, 'state')}`,
        '-E',
        `AUTHZ_POLICY=${policy}`,
        process.execPath,
        cli,
        'serve',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    t.teardown(async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    });

    // The socket exists before the plugin runs (that is what lets dockerd start first).
    const deadline = Date.now() + 10_000;
    while (!existsSync(sock)) {
      if (Date.now() > deadline) throw new Error(`no socket from systemd-socket-activate: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    t.notMatch(out, /"msg":"listening"/, 'the plugin has not started yet');

    // The first connection waits in the backlog while the plugin starts, then is answered.
    const body = await unixRequest(sock, 'GET', '/health', { timeoutMs: 20_000 });
    t.equal(body.status, 200, 'the first call is answered');
    t.match(body.json(), { status: 'ok', plugin: 'authz' });
    const logged = Date.now() + 10_000;
    while (!/"msg":"listening"/.test(out) && Date.now() < logged) await new Promise((r) => setTimeout(r, 20));
    t.match(out, /"via":"systemd"/, 'the plugin used the socket it was handed (fd 3), not one of its own');
    t.equal(child.exitCode, null, 'and keeps serving');
  },
);
