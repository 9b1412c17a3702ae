/**
 * Identities for real: a dockerd with a TLS listener passes the client certificate's CN to the
 * plugin as `User`. Each identity says hello for itself, unix-socket callers are one anonymous
 * identity, and a rule scoped to one user applies to that user only.
 */
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { run, runOk } from '../helpers/process.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await runOk('openssl', args, { cwd: dir });
}

// A CA, a server certificate for 127.0.0.1, and client certificates whose CN is the identity.
async function makePki(dir: string, users: string[]): Promise<void> {
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=e2e-ca',
  );
  const sign = async (name: string, subject: string, ext: string) => {
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject);
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  await sign('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const user of users) await sign(user, `/O=e2e/CN=${user}`, 'extendedKeyUsage=clientAuth\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

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
  const d = await startDockerd({
    extraArgs: [
      '-H',
      `tcp://127.0.0.1:${port}`,
      '--tlsverify',
      `--tlscacert=${join(dir, 'ca.pem')}`,
      `--tlscert=${join(dir, 'server.pem')}`,
      `--tlskey=${join(dir, 'server-key.pem')}`,
    ],
  });
  t.teardown(() => d.stop());
  await importImages(d);
  await d.setAuthzPlugins([name]);

  const as = async (user: string, ...args: string[]) => {
    const tls = [
      '-H',
      `tcp://127.0.0.1:${port}`,
      '--tlsverify',
      `--tlscacert=${join(dir, 'ca.pem')}`,
      `--tlscert=${join(dir, `${user}.pem`)}`,
      `--tlskey=${join(dir, `${user}-key.pem`)}`,
    ];
    return run('docker', [...tls, ...args], { env: { ...process.env, DOCKER_CONFIG: join(dir, 'cli') }, timeoutMs: 60_000 });
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
