/**
 * Identities for real: a dockerd with a TLS listener passes the client certificate's CN to the
 * plugin as `User`. Each identity says hello for itself, unix-socket callers are one anonymous
 * identity, and a rule scoped to one user applies to that user only.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { run, runOk } from '../helpers/process.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';
import { freePort, makePki, tlsFlags, tlsListenerFlags } from './helpers/tls.js';

t.test('per-identity hello gate and per-user rules over TLS client certificates', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start a private dockerd)');
  const dir = await makeTempDir('authz-tls-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await makePki(dir, ['alice', 'bob']);
  const policy = join(dir, 'policy.yaml');
  await writeFile(
    policy,
    `version: 1
rules:
  - id: bob-no-volumes
    kind: operations
    operations: [volume.create]
    users: [bob]
  - id: no-privileged
    kind: privileged
`,
  );
  const name = uniquePluginName();
  const plugin = await spawnPlugin({ socket: pluginSocketPath(name), stateDir: join(dir, 'state'), policyFile: policy });
  t.teardown(() => plugin.stop());

  const port = await freePort();
  const d = await startDockerd({ extraArgs: tlsListenerFlags(dir, port) });
  t.teardown(() => d.stop());
  await importImages(d);
  await d.setAuthzPlugins([name]);

  const as = async (user: string, ...args: string[]) => {
    return run('docker', [...tlsFlags(dir, port, user), ...args], {
      env: { ...process.env, DOCKER_CONFIG: join(dir, 'cli') },
      timeoutMs: 60_000,
    });
  };
  const hello = 'You must say hello first: run "docker run hello-world"';

  t.match((await as('alice', 'ps')).stderr, hello, 'alice has not said hello');
  const greeting = await as('alice', 'run', '--rm', 'hello-world');
  t.equal(greeting.code, 0, greeting.stderr);
  t.match(greeting.stdout, 'Hello from Docker!');
  t.equal((await as('alice', 'ps')).code, 0, 'alice is through the gate');
  t.match((await as('bob', 'ps')).stderr, hello, "alice's hello does not open the gate for bob");
  t.match((await d.docker(['ps'])).stderr, hello, 'nor for unix-socket callers');
  await plugin.waitForLine(
    (r: { msg?: string; identity?: string; allow?: boolean; op?: string }) =>
      r.msg === 'decision' && r.identity === 'bob' && r.op === 'container.list' && r.allow === false,
  );

  t.equal((await as('bob', 'run', '--rm', 'hello-world')).code, 0);
  const bobVolume = await as('bob', 'volume', 'create', 'bobs');
  t.not(bobVolume.code, 0);
  t.match(bobVolume.stderr, 'denied by rule bob-no-volumes: operation volume.create is not allowed');
  t.equal((await as('alice', 'volume', 'create', 'alices')).code, 0, 'the rule is scoped to bob');
  t.match(
    (await as('alice', 'run', '--rm', '--privileged', BUSYBOX_IMAGE, 'true')).stderr,
    'denied by rule no-privileged',
    'unscoped rules apply to everyone',
  );

  const status = await runOk(process.execPath, [PLUGIN_CLI, 'hello', 'status'], {
    env: { ...process.env, AUTHZ_SOCKET: pluginSocketPath(name), AUTHZ_STATE_DIR: join(dir, 'state') },
  });
  t.match(status.stdout, /^alice\t.*\nbob\t/m, 'docker-authz hello status lists both');
  await runOk(process.execPath, [PLUGIN_CLI, 'hello', 'reset', '--user', 'alice'], {
    env: { ...process.env, AUTHZ_SOCKET: pluginSocketPath(name), AUTHZ_STATE_DIR: join(dir, 'state') },
  });
  t.match((await as('alice', 'ps')).stderr, hello, 'after hello reset --user alice, alice must say hello again');
  t.equal((await as('bob', 'ps')).code, 0, 'bob is untouched');
});
