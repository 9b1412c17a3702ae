/**
 * systemd/docker-authz-gateway.service: `systemd-analyze verify` accepts it without a warning
 * (verified as a copy whose /opt/docker-authz prefix points at a stub launcher, as in
 * systemd-units.test.ts), its hardening rates "OK", and it agrees with the gateway's defaults:
 * runtime and PKI directories, the one capability it needs, loopback-only networking, and no
 * dependency on the plugin's units.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = 'docker-authz-gateway.service';
const text = readFileSync(join(ROOT, 'systemd', UNIT), 'utf8');

function section(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    out.set(line.slice(0, eq), [...(out.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function verifiableCopy(t: Test, unitText = text): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'opt', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'opt', 'current'));
  writeFileSync(join(dir, 'opt', 'bin', 'docker-authz'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'opt', 'bin', 'docker-authz'), 0o755);
  writeFileSync(join(dir, UNIT), unitText.replaceAll('/opt/docker-authz', join(dir, 'opt')));
  return join(dir, UNIT);
}

t.test('systemd-analyze verify accepts the unit without a warning', { skip: !hasAnalyze && 'systemd-analyze not installed' }, async (t) => {
  const r = spawnSync('systemd-analyze', ['verify', verifiableCopy(t)], { encoding: 'utf8' });
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.equal(r.stderr.trim(), '', 'no warnings');
  const bad = spawnSync('systemd-analyze', ['verify', verifiableCopy(t, text.replace('IPAddressDeny=', 'IPAdressDeny='))], {
    encoding: 'utf8',
  });
  t.match(bad.stderr, /Unknown key.*IPAdressDeny/, 'the check can fail');
});

t.test('the hardening rates OK in systemd-analyze security', { skip: !hasAnalyze && 'systemd-analyze not installed' }, async (t) => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', verifiableCopy(t)], { encoding: 'utf8' });
  const level = /Overall exposure level for docker-authz-gateway\.service: ([\d.]+)/.exec(r.stdout);
  t.ok(level, 'an overall exposure level is reported', { stdout: r.stdout, stderr: r.stderr });
  t.ok(Number(level?.[1]) <= 3, `exposure ${level?.[1]} is at most 3.0`);
});

t.test('the unit agrees with the gateway', async (t) => {
  const unit = section('Unit');
  const service = section('Service');
  const defaults = loadConfig({});
  t.same(service.get('ExecStart'), ['/opt/docker-authz/bin/docker-authz gateway']);
  t.same(service.get('ExecReload'), ['/bin/kill -HUP $MAINPID'], 'reload = SIGHUP = re-read the users');
  t.same(service.get('Restart'), ['always']);
  t.same(unit.get('StartLimitIntervalSec'), ['0']);
  for (const key of ['Requires', 'BindsTo', 'Requisite', 'PartOf'])
    t.notOk(unit.has(key), `no ${key}=: it works without the plugin and across its restarts`);
  t.notMatch(text, /docker-authz\.(socket|service)/, 'does not name the plugin units at all');

  const runtime =
    service
      .get('RuntimeDirectory')?.[0]
      ?.split(/\s+/)
      .map((d) => `/run/${d}`) ?? [];
  t.ok(runtime.includes(defaults.usersSocketDir), `the users' socket directory ${defaults.usersSocketDir} is a runtime directory`);
  t.ok(
    runtime.some((d) => defaults.gatewaySocket === `${d}/gateway.sock`),
    'and so is the control socket directory',
  );
  t.same(service.get('RuntimeDirectoryMode'), ['0711'], 'users can traverse it, not list it');
  t.same(
    service.get('ConfigurationDirectory'),
    [defaults.pkiDir.replace('/etc/', '')],
    `the PKI ${defaults.pkiDir} is writable (renewals)`,
  );
  t.same(service.get('ConfigurationDirectoryMode'), ['0700']);

  t.same(service.get('CapabilityBoundingSet'), ['CAP_CHOWN'], 'one capability: giving each socket to its user');
  t.same(service.get('RestrictAddressFamilies'), ['AF_UNIX AF_INET AF_INET6']);
  t.same(service.get('IPAddressDeny'), ['any']);
  t.same(service.get('IPAddressAllow'), ['localhost'], 'TCP to the daemon on the loopback only');
  t.equal(defaults.daemonTls.host, '127.0.0.1', 'which is where the daemon listener is by default');
  t.same(service.get('ProtectSystem'), ['strict']);
  t.notOk(service.has('MemoryDenyWriteExecute'));
});
