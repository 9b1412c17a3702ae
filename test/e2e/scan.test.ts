/**
 * `docker-authz scan` on a real dockerd 20.10: containers, volumes and networks made before the
 * plugin was installed are listed when the default policy would refuse to create them (and only
 * then), with what to do; the scan works with the plugin in front of the daemon once the caller has
 * said hello, and reports a daemon it cannot read with exit status 3.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { ScanReport } from '../../src/scan/scan.js';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';

const B = BUSYBOX_IMAGE;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function scan(d: Dockerd, ...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, AUTHZ_LOG_LEVEL: 'silent', AUTHZ_ENV_FILE: '' };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [PLUGIN_CLI, 'scan', '--host', `unix://${d.socket}`, ...args], {
      env,
      cwd: d.dir, // no stray .env
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const refusedNames = (report: ScanReport) => report.refused.map((o) => `${o.kind} ${o.name}`).sort();

t.test('scan lists what existed before the plugin and the policy would refuse', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start a private dockerd)');
  const name = uniquePluginName();
  const scratch = await makeTempDir('authz-scan-');
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const plugin = await spawnPlugin({ socket: pluginSocketPath(name), stateDir: join(scratch, 'state') });
  t.teardown(() => plugin.stop());
  const d = await startDockerd({});
  t.teardown(() => d.stop());
  await importImages(d);

  // Made before the plugin is switched on, as on a host that has been in use for a while.
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await docker('create', '--name', 'old-priv', '--privileged', B, 'true');
  await docker('create', '--name', 'old-bind', '-v', '/etc:/host-etc', B, 'true');
  await docker('create', '--name', 'old-pid', '--pid', 'host', '--oom-score-adj', '-500', B, 'true');
  await docker('run', '-d', '--name', 'old-plain', B, 'sleep', '600');
  await docker('volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', 'device=/', 'old-hostroot');
  await docker('volume', 'create', 'old-plainvol');
  await docker('create', '--name', 'old-vol', '-v', 'old-hostroot:/r', '-v', 'old-plainvol:/p', B, 'true');
  await docker('network', 'create', '-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', 'old-bindnet');
  await docker('network', 'create', 'old-plainnet');
  await docker('create', '--name', 'old-onnet', '--network', 'old-bindnet', B, 'true');
  await docker('create', '--name', 'old-plain2', '--network', 'old-plainnet', '-v', 'old-plainvol:/p', B, 'true');

  const expected = [
    'container old-bind',
    'container old-onnet',
    'container old-pid',
    'container old-priv',
    'container old-vol',
    'network old-bindnet',
    'volume old-hostroot',
  ];

  await t.test('without the plugin: exit 1, the refused objects and nothing else', async (t) => {
    const json = await scan(d, '--json');
    t.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as ScanReport;
    t.same(refusedNames(report), expected);
    t.same(report.checked, { containers: 7, volumes: 2, networks: 2 }, "the daemon's own networks are not judged");
    t.same(report.unreadable, []);
    const rules = (n: string) => report.refused.find((o) => o.name === n)!.findings.map((f) => f.rule);
    t.same(rules('old-priv'), ['no-privileged'], 'a privileged container (the label=disable the daemon adds to it is its own doing)');
    t.same(rules('old-bind'), ['host-paths']);
    t.same(rules('old-pid'), ['host-namespaces', 'host-resources']);
    t.same(rules('old-vol'), ['host-paths'], 'the bind-backed volume it mounts');
    t.same(rules('old-onnet'), ['networks'], 'the network it is on');

    const text = await scan(d);
    t.equal(text.code, 1);
    t.match(text.stdout, 'container "old-priv"');
    t.match(text.stdout, '  - no-privileged: --privileged (HostConfig.Privileged) gives the container full access to the host');
    t.match(
      text.stdout,
      '  - host-paths: -v /etc:/host-etc (HostConfig.Binds[0]) mounts /etc from the host (this policy allows no host paths)',
    );
    t.match(
      text.stdout,
      '  - host-paths: volume "old-hostroot" (at /r): --mount volume-opt=device=/ (Mounts[0].VolumeOptions.DriverConfig.Options.device)',
    );
    t.match(text.stdout, '  - networks: --opt com.docker.network.bridge.host_binding_ipv4');
    t.match(text.stdout, 'fix: docker rm -f old-priv, then recreate it within the policy');
    t.match(text.stdout, 'fix: move its data if needed, then docker volume rm old-hostroot');
    t.match(text.stdout, 'fix: disconnect its containers, then docker network rm old-bindnet');
    t.notMatch(text.stdout, /old-plain|old-plainvol|old-plainnet/, 'everyday objects are not listed');
  });

  await t.test('with the plugin in front: refused before hello (exit 3), the same report after', async (t) => {
    await d.setAuthzPlugins([name]);
    const before = await scan(d);
    t.equal(before.code, 3, 'the daemon could not be read');
    t.match(before.stderr, /403 authorization denied by plugin .*: You must say hello first/);
    const hello = await d.docker(['run', '--rm', 'hello-world']);
    t.equal(hello.code, 0, hello.stderr);
    const after = await scan(d, '--json');
    t.equal(after.code, 1, after.stderr);
    t.same(refusedNames(JSON.parse(after.stdout) as ScanReport), expected, 'read-only calls pass the plugin once greeted');
  });

  await t.test('after the fixes: exit 0, nothing found', async (t) => {
    for (const c of ['old-priv', 'old-bind', 'old-pid', 'old-vol', 'old-onnet']) await docker('rm', '-f', c);
    await docker('volume', 'rm', 'old-hostroot');
    await docker('network', 'rm', 'old-bindnet');
    const clean = await scan(d);
    t.equal(clean.code, 0, clean.stderr);
    t.match(clean.stdout, 'nothing found');
  });

  await t.test('usage and unreachable daemons', async (t) => {
    const bad = await scan(d, '--nonsense');
    t.equal(bad.code, 2);
    t.match(bad.stderr, "Unknown option '--nonsense'");
    t.match(bad.stderr, 'usage: docker-authz scan');
    const tcp = await scan(d, '--host', 'tcp://127.0.0.1:2375');
    t.equal(tcp.code, 2);
    const gone = await scan(d, '--host', `unix://${join(scratch, 'no-daemon.sock')}`);
    t.equal(gone.code, 3);
    t.match(gone.stderr, 'ENOENT');
  });
});
