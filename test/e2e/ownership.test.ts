/**
 * Ownership on a real dockerd with a TLS listener: bob's containers, volumes and networks are his.
 * alice cannot exec into, read, copy from, stop, remove, rename or commit bob's container — by name,
 * full ID or short prefix, nor after bob renames it — nor mount his volume or join his container's
 * namespaces or his network; an administrator can; a container made before the plugin was switched
 * on is for administrators only until `docker-authz owners adopt` gives it to someone; bob's own
 * everyday work is untouched.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { unixRequest } from '../helpers/http.js';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { run, runOk } from '../helpers/process.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';
import { freePort, makePki, tlsFlags, tlsListenerFlags } from './helpers/tls.js';

const B = BUSYBOX_IMAGE;

t.test('users manage only what they created', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start a private dockerd)');
  const dir = await makeTempDir('authz-own-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await makePki(dir, ['alice', 'bob', 'admin']);
  const policy = join(dir, 'policy.yaml');
  await writeFile(
    policy,
    `version: 1
hello: { enabled: false }
groups: { admins: [admin] }
rules:
  - id: ownership
    kind: ownership
    exceptUsers: ["@anonymous"]
    exceptGroups: [admins]
  - id: host-namespaces
    kind: host-namespaces
`,
  );

  const port = await freePort();
  const d = await startDockerd({ extraArgs: tlsListenerFlags(dir, port) });
  t.teardown(() => d.stop());
  await importImages(d);
  // Made before the plugin is switched on.
  const old = await d.docker(['create', '--name', 'old', B, 'true']);
  t.equal(old.code, 0, old.stderr);

  const name = uniquePluginName();
  const stateDir = join(dir, 'state');
  const plugin = await spawnPlugin({
    socket: pluginSocketPath(name),
    stateDir,
    policyFile: policy,
    env: { AUTHZ_DOCKER_HOST: `unix://${d.socket}` },
  });
  t.teardown(() => plugin.stop());
  await pollUntil(
    async () => {
      const h = await unixRequest(pluginSocketPath(name), 'GET', '/health');
      return (JSON.parse(h.body) as { objects?: { synced?: boolean } }).objects?.synced === true;
    },
    { timeoutMs: 30_000, what: "the plugin's object records to be in step with the daemon" },
  );
  await d.setAuthzPlugins([name]);

  const as = (user: string, ...args: string[]) =>
    run('docker', [...tlsFlags(dir, port, user), ...args], { env: { ...process.env, DOCKER_CONFIG: join(dir, 'cli') }, timeoutMs: 60_000 });
  const ok = async (user: string, ...args: string[]) => {
    const r = await as(user, ...args);
    t.equal(r.code, 0, `${user}: docker ${args.join(' ')} ${r.stderr}`);
    return r.stdout.trim();
  };
  const refused = async (user: string, args: string[], message: RegExp | string) => {
    const r = await as(user, ...args);
    t.not(r.code, 0, `${user}: docker ${args.join(' ')} is refused`);
    t.match(r.stderr, message, `${user}: docker ${args.join(' ')}`);
  };
  const cli = (...args: string[]) =>
    runOk(process.execPath, [PLUGIN_CLI, ...args], { env: { ...process.env, AUTHZ_STATE_DIR: stateDir, AUTHZ_ENV_FILE: '' } });

  // bob's everyday work.
  const id = await ok('bob', 'run', '-d', '--name', 'web', B, 'sleep', '600');
  await ok('bob', 'volume', 'create', 'bobvol');
  await ok('bob', 'network', 'create', 'bobnet');
  await ok('bob', 'exec', 'web', 'true');
  await ok('bob', 'logs', 'web');
  await ok('bob', 'run', '--rm', '-v', 'bobvol:/d', '--network', 'bobnet', B, 'true');

  const belongs = /denied by rule ownership: .*belongs to bob: only its owner and administrators may use it/;
  for (const ref of ['web', id, id.slice(0, 12), id.slice(0, 5)]) {
    await refused('alice', ['exec', ref, 'true'], belongs);
    await refused('alice', ['logs', ref], belongs);
    await refused('alice', ['inspect', '--type', 'container', ref], belongs);
    await refused('alice', ['cp', `${ref}:/etc/hostname`, join(dir, 'stolen')], belongs);
    await refused('alice', ['stop', ref], belongs);
    await refused('alice', ['rm', '-f', ref], belongs);
    await refused('alice', ['rename', ref, 'mine'], belongs);
    await refused('alice', ['commit', ref], belongs);
  }
  await ok('bob', 'rename', 'web', 'web2');
  await refused('alice', ['exec', 'web2', 'true'], /container "web2" belongs to bob/);
  await refused('alice', ['run', '--rm', '-v', 'bobvol:/d', B, 'true'], /Binds\[0\] "bobvol" is a volume that belongs to bob/);
  await refused('alice', ['run', '--rm', '--mount', 'type=volume,src=bobvol,dst=/d', B, 'true'], belongs);
  await refused('alice', ['run', '--rm', '--pid', 'container:web2', B, 'true'], /PidMode "web2" is a container that belongs to bob/);
  await refused('alice', ['run', '--rm', '--network', 'container:web2', B, 'true'], belongs);
  await refused('alice', ['run', '--rm', '--volumes-from', 'web2', B, 'true'], belongs);
  await refused('alice', ['run', '--rm', '--network', 'bobnet', B, 'true'], /network that belongs to bob/);
  await refused('alice', ['network', 'rm', 'bobnet'], belongs);
  await refused('alice', ['volume', 'rm', 'bobvol'], belongs);
  await refused('alice', ['container', 'prune', '-f'], /only administrators may prune/);
  await ok('alice', 'ps', '-a'); // lists are not filtered (documented)
  await ok('alice', 'run', '--rm', B, 'true');

  // An administrator can.
  await ok('admin', 'logs', 'web2');
  await ok('admin', 'exec', 'web2', 'true');
  await ok('admin', 'inspect', '--type', 'volume', 'bobvol');

  // Made before the plugin: administrators only, until adopted.
  await refused('alice', ['inspect', '--type', 'container', 'old'], /container "old" was not created through docker-authz/);
  await refused('bob', ['start', 'old'], /only administrators may use it/);
  await ok('admin', 'inspect', '--type', 'container', 'old');
  const owners = JSON.parse((await cli('owners', '--format', 'json')).stdout) as {
    kind: string;
    name: string | null;
    owner: string | null;
  }[];
  t.same(
    owners
      .filter((o) => o.kind === 'container' && (o.name === 'old' || o.name === 'web2'))
      .map((o) => `${o.name}=${o.owner}`)
      .sort(),
    ['old=null', 'web2=bob'],
    'docker-authz owners',
  );
  t.match((await cli('owners', 'adopt', 'old', 'alice')).stdout, 'container old now belongs to alice');
  await ok('alice', 'inspect', '--type', 'container', 'old');

  // bob's own work, to the end.
  await ok('bob', 'stop', '-t', '0', 'web2');
  await ok('bob', 'rm', 'web2');
  await ok('bob', 'volume', 'rm', 'bobvol');
  await ok('bob', 'network', 'rm', 'bobnet');
  await pollUntil(async () => !(await cli('owners')).stdout.includes('web2'), { timeoutMs: 10_000, what: 'the record of web2 to go' });
});
