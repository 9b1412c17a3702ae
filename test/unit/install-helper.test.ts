/**
 * scripts/install-helper.mjs, the parts of the installer's --users and --audit that do not need a
 * dockerd: the plan for dockerd's TLS listener (daemon.json, and the drop-in that takes -H off
 * docker.service where systemd runs dockerd — which the end-to-end test cannot reach, systemd not
 * being PID 1 there), undoing it, the probe of the listener, and the audit-mode policy.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import t, { type Test } from 'tap';
import { initPki } from '../../src/pki/pki.js';
import { REPO_ROOT } from '../helpers/paths.js';

const HELPER = join(REPO_ROOT, 'scripts', 'install-helper.mjs');
const helper = (...args: string[]) => spawnSync(process.execPath, [HELPER, ...args], { encoding: 'utf8' });

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ih-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const DEBIAN_UNIT = `[Unit]
Description=Docker Application Container Engine
Requires=docker.socket

[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
`;

const TLS = {
  tlsverify: true,
  tlscacert: '/etc/docker-authz/pki/ca.pem',
  tlscert: '/etc/docker-authz/pki/server-cert.pem',
  tlskey: '/etc/docker-authz/pki/server-key.pem',
};

interface Plan {
  code: number | null;
  stderr: string;
  notes: string;
  daemonJson?: Record<string, unknown>;
  daemonJsonText?: string;
  record?: { address: string; before: Record<string, unknown>; after: Record<string, unknown> };
  recordText?: string;
  dropin?: string;
  changed?: boolean;
}

/** Runs users-plan in `dir` (daemon.json there, as given) and reads what it wrote. */
function plan(
  dir: string,
  o: { daemonJson?: string; address?: string; record?: string; cmdline?: string[]; units?: string[]; listen?: string[] },
): Plan {
  const file = join(dir, 'daemon.json');
  if (o.daemonJson !== undefined) writeFileSync(file, o.daemonJson);
  const out = mkdtempSync(join(dir, 'out-'));
  const args = [
    'users-plan',
    '--daemon-json',
    file,
    '--address',
    o.address ?? '127.0.0.1:2376',
    '--pki',
    '/etc/docker-authz/pki',
    '--out',
    out,
  ];
  if (o.record) args.push('--record', o.record);
  if (o.cmdline) {
    writeFileSync(join(dir, 'cmdline'), o.cmdline.join('\0') + '\0');
    args.push('--cmdline', join(dir, 'cmdline'));
  }
  for (const u of o.units ?? []) args.push('--unit', u);
  for (const l of o.listen ?? []) args.push('--listen', l);
  const r = helper(...args);
  const read = (name: string) => (existsSync(join(out, name)) ? readFileSync(join(out, name), 'utf8') : undefined);
  const daemonJsonText = read('daemon.json');
  const recordText = read('record');
  return {
    code: r.status,
    stderr: r.stderr,
    notes: r.stdout,
    daemonJsonText,
    daemonJson: daemonJsonText === undefined ? undefined : (JSON.parse(daemonJsonText) as Record<string, unknown>),
    recordText: recordText?.trim(),
    record: recordText === undefined ? undefined : (JSON.parse(recordText) as Plan['record']),
    dropin: read('dropin'),
    changed: read('changed') === undefined ? undefined : read('changed') === '1\n',
  };
}

t.test('systemd with -H fd:// (Debian, docker-ce): the listeners move to daemon.json, a drop-in takes -H off', async (t) => {
  const dir = tempDir(t);
  const unit = join(dir, 'docker.service');
  writeFileSync(unit, DEBIAN_UNIT);
  const original = '{\n  "log-driver": "journald"\n}\n';
  const p = plan(dir, {
    daemonJson: original,
    units: [unit],
    listen: ['/run/docker.sock (Stream)'],
    cmdline: ['/usr/sbin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock'],
  });
  t.equal(p.code, 0, p.stderr);
  t.same(
    p.daemonJson,
    { 'log-driver': 'journald', hosts: ['unix:///run/docker.sock', 'tcp://127.0.0.1:2376'], ...TLS },
    'fd:// becomes the unix socket docker.socket listens on (with TLS on, dockerd would serve fd:// with TLS); the TLS listener is added',
  );
  t.equal(p.changed, true);
  t.equal(
    p.dropin,
    "# Written by docker-authz's installer (--users); the uninstaller removes it.\n" +
      `# dockerd's listeners are in ${join(dir, 'daemon.json')} ("hosts"), which dockerd refuses to combine with\n` +
      "# -H flags: this is docker.service's ExecStart= without them.\n" +
      '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n',
    'the drop-in: the same command without -H fd:// (variables left for systemd)',
  );
  t.match(p.notes, /-H fd:\/\/ moves from ExecStart= to "hosts"/);
  t.same(
    p.record,
    {
      address: '127.0.0.1:2376',
      before: { hosts: null, tlsverify: null, tlscacert: null, tlscert: null, tlskey: null },
      after: p.daemonJson && { hosts: p.daemonJson.hosts, ...TLS },
    },
    'the record: what the keys were before, what the installer set',
  );

  // Installed: the running dockerd has no -H any more; a second run plans the same and changes nothing.
  writeFileSync(join(dir, 'daemon.json'), p.daemonJsonText!);
  const again = plan(dir, {
    record: p.recordText,
    units: [unit],
    listen: ['/run/docker.sock (Stream)'],
    cmdline: ['/usr/sbin/dockerd', '--containerd=/x'],
  });
  t.equal(again.code, 0, again.stderr);
  t.equal(again.changed, false, 'a second run changes nothing');
  t.equal(again.dropin, p.dropin, 'the same drop-in');
  t.equal(again.recordText, p.recordText, 'and the record keeps what was there before the first run');

  // Undone: the file as it was, byte for byte.
  const undone = join(dir, 'undone.json');
  const u = helper('users-undo', join(dir, 'daemon.json'), p.recordText!, undone);
  t.equal(u.status, 0, u.stderr);
  t.equal(readFileSync(undone, 'utf8'), original, 'users-undo puts the keys back as they were');
  writeFileSync(join(dir, 'daemon.json'), original);
  t.equal(helper('users-undo', join(dir, 'daemon.json'), p.recordText!, undone).status, 3, 'and has nothing to do a second time');
});

t.test('the effective ExecStart: drop-ins reset and replace it; quotes and continuation lines are kept', async (t) => {
  const dir = tempDir(t);
  const unit = join(dir, 'docker.service');
  writeFileSync(unit, DEBIAN_UNIT);
  const override = join(dir, 'override.conf');
  writeFileSync(
    override,
    '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd \\\n  --host=fd:// \\\n  --label "team=a b" -Hunix:///run/extra.sock\n',
  );
  const p = plan(dir, { daemonJson: '{}\n', units: [unit, override], listen: ['/run/docker.sock (Stream)'] });
  t.equal(p.code, 0, p.stderr);
  t.match(
    p.dropin,
    /\nExecStart=\nExecStart=\/usr\/bin\/dockerd --label "team=a b"\n$/,
    'every -H spelling removed, the quoted word kept as written',
  );
  t.same(p.daemonJson?.hosts, ['unix:///run/docker.sock', 'unix:///run/extra.sock', 'tcp://127.0.0.1:2376']);
});

t.test('what the plan refuses, and says why', async (t) => {
  const dir = tempDir(t);
  const unit = join(dir, 'docker.service');
  writeFileSync(unit, DEBIAN_UNIT);
  const cases: Array<[string, Parameters<typeof plan>[1], RegExp]> = [
    [
      'a dockerd not under systemd started with -H',
      { daemonJson: '{}', cmdline: ['dockerd', '-H', 'unix:///run/d.sock'] },
      /dockerd was started with -H unix:\/\/\/run\/d\.sock on its command line[^]*Put "hosts": \["unix:\/\/\/run\/d\.sock"\]/,
    ],
    [
      '-H from an environment variable under systemd',
      {
        daemonJson: '{}',
        units: [unit],
        listen: ['/run/docker.sock (Stream)'],
        cmdline: ['dockerd', '-H', 'fd://', '-H', 'tcp://0.0.0.0:2375'],
      },
      /an environment variable \(DOCKER_OPTS in \/etc\/default\/docker\?\)/,
    ],
    ['TLS flags', { daemonJson: '{}', cmdline: ['dockerd', '--tlsverify'] }, /dockerd runs with --tlsverify on its command line/],
    [
      'TLS settings of its own',
      { daemonJson: '{"tlscacert": "/etc/docker/ca.pem"}' },
      /already sets "tlscacert": "\/etc\/docker\/ca\.pem"/,
    ],
    ['"tls": false', { daemonJson: '{"tls": false}' }, /sets "tls": false/],
    [
      'another TCP listener',
      { daemonJson: '{"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}' },
      /also listens on tcp:\/\/0\.0\.0\.0:2375/,
    ],
    ['a listener off the loopback', { daemonJson: '{}', address: '0.0.0.0:2376' }, /must be on the loopback/],
    ['docker.socket on TCP', { daemonJson: '{}', units: [unit], listen: ['0.0.0.0:2375 (Stream)'] }, /only unix sockets can be moved/],
  ];
  for (const [what, o, message] of cases) {
    const p = plan(dir, o);
    t.equal(p.code, 1, `${what}: refused`);
    t.match(p.stderr, message, `${what}: says why`);
    t.equal(p.daemonJsonText, undefined, `${what}: writes nothing`);
  }
});

t.test('without systemd and without -H: the default socket, kept, and the listener ([::1] too)', async (t) => {
  const dir = tempDir(t);
  const p = plan(dir, { daemonJson: '{"debug": true}', address: '[::1]:3376', cmdline: ['dockerd', '--debug'] });
  t.equal(p.code, 0, p.stderr);
  t.same(
    p.daemonJson,
    { debug: true, hosts: ['unix:///var/run/docker.sock', 'tcp://[::1]:3376'], ...TLS },
    'the default unix socket stays',
  );
  t.equal(p.dropin, undefined, 'no drop-in');
  const kept = plan(dir, { daemonJson: '{"hosts": ["unix:///srv/d.sock"]}' });
  t.same(kept.daemonJson?.hosts, ['unix:///srv/d.sock', 'tcp://127.0.0.1:2376'], 'the hosts daemon.json had stay first');
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

t.test('tls-probe: nothing, something else, dockerd with the CA (which asks for a client certificate)', async (t) => {
  const dir = tempDir(t);
  const pki = join(dir, 'pki');
  await initPki(pki, { serverHosts: ['127.0.0.1'] });
  const other = mkdtempSync(join(dir, 'other-'));
  await initPki(other, { serverHosts: ['127.0.0.1'] });
  // Asynchronously: the servers are in this process.
  const probe = (port: number) =>
    new Promise<{ status: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [HELPER, 'tls-probe', `127.0.0.1:${port}`, join(pki, 'ca.pem'), '0'], (err, stdout) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout }),
      );
    });

  const plain = createTcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  const plainPort = await listen(plain);
  const tlsServer = (dirOf: string) =>
    createTlsServer({
      key: readFileSync(join(dirOf, 'server-key.pem')),
      cert: readFileSync(join(dirOf, 'server-cert.pem')),
      ca: readFileSync(join(dirOf, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    });
  const ours = tlsServer(pki);
  ours.on('tlsClientError', () => undefined);
  const oursPort = await listen(ours);
  const theirs = tlsServer(other);
  theirs.on('tlsClientError', () => undefined);
  const theirsPort = await listen(theirs);
  t.teardown(() => {
    plain.close();
    ours.close();
    theirs.close();
  });
  plain.close();
  const closed = await probe(plainPort);
  t.equal(closed.status, 3, `nothing listens: ${closed.stdout}`);

  const again = createTcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  const againPort = await listen(again);
  t.teardown(() => again.close());
  const other1 = await probe(againPort);
  t.equal(other1.status, 4, `not TLS: ${other1.stdout.trim()}`);
  const other2 = await probe(theirsPort);
  t.equal(other2.status, 4, `TLS from another CA: ${other2.stdout.trim()}`);
  const ok = await probe(oursPort);
  t.equal(ok.status, 0, `the docker-authz CA's server certificate: ${ok.stdout.trim()}`);
});

t.test('audit-policy and policy-mode', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'policy.yaml');
  t.equal(helper('audit-policy', join(REPO_ROOT, 'policy', 'default.yaml'), out).status, 0);
  const text = readFileSync(out, 'utf8');
  t.match(text, /^version: 1\n\nmode: audit\n# \^ installed with --audit/m);
  t.equal(helper('policy-mode', REPO_ROOT, out).stdout.trim(), 'audit');
  const check = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'cli.js'), 'check', out], { encoding: 'utf8' });
  t.equal(check.status, 0, `the plugin accepts it: ${check.stdout}${check.stderr}`);
  t.equal(helper('policy-mode', REPO_ROOT, join(REPO_ROOT, 'policy', 'default.yaml')).stdout.trim(), 'enforce');
  writeFileSync(join(dir, 'enforce.yaml'), 'version: 1\nmode: enforce # later\nrules: []\n');
  t.equal(helper('audit-policy', join(dir, 'enforce.yaml'), out).status, 0);
  t.equal(readFileSync(out, 'utf8'), 'version: 1\nmode: audit\nrules: []\n', 'an existing mode line is switched');
});

t.test('env-get reads KEY=value lines like the launcher', async (t) => {
  const dir = tempDir(t);
  const env = join(dir, 'authz.env');
  writeFileSync(env, '# comment\nAUTHZ_PKI_DIR=/srv/pki\nexport AUTHZ_DAEMON_TLS_ADDRESS="127.0.0.1:4000" # port\nAUTHZ_EMPTY=\n');
  const r = helper('env-get', env, 'AUTHZ_PKI_DIR=/d', 'AUTHZ_DAEMON_TLS_ADDRESS=x', 'AUTHZ_EMPTY=default', 'AUTHZ_MISSING=/m');
  t.equal(r.stdout, '/srv/pki\n127.0.0.1:4000\ndefault\n/m\n');
  t.equal(helper('env-get', join(dir, 'none'), 'A=1').stdout, '1\n', 'a missing file: the defaults');
});
