import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pkiPaths, userPaths } from '../../../src/pki/paths.js';
import { CLIENT_DAYS, initPki, issueUser, listUsers, readUserCredentials, removeUser, renewUsers } from '../../../src/pki/pki.js';
import { userNameProblem } from '../../../src/pki/names.js';

const DAY = 86_400_000;

async function tempPki(t: Test): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'pki-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  return join(base, 'pki');
}

t.test('init makes a CA and a server certificate for the daemon, root-only, once', async (t) => {
  const dir = await tempPki(t);
  const first = await initPki(dir, { serverHosts: ['127.0.0.1'] });
  t.same([...first.changed].sort(), ['ca', 'server']);
  const p = pkiPaths(dir);
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'directory 0700');
  t.equal((await stat(p.usersDir)).mode & 0o777, 0o700);
  for (const f of [p.caKey, p.caCert, p.serverKey, p.serverCert]) t.equal((await stat(f)).mode & 0o777, 0o600, `${f} is 0600`);

  const ca = new X509Certificate(await readFile(p.caCert));
  const server = new X509Certificate(await readFile(p.serverCert));
  t.ok(ca.ca, 'the CA is a CA');
  t.ok(server.verify(ca.publicKey), 'the server certificate is signed by it');
  t.notOk(server.ca);
  t.equal(server.checkIP('127.0.0.1'), '127.0.0.1', 'valid for 127.0.0.1');
  t.equal(server.checkHost('localhost'), 'localhost', 'and localhost');
  t.match(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth');

  const again = await initPki(dir, { serverHosts: ['127.0.0.1'] });
  t.same(again.changed, [], 'idempotent');
  t.equal(again.server.fingerprint, first.server.fingerprint);

  const moved = await initPki(dir, { serverHosts: ['10.0.0.5'] });
  t.same(moved.changed, ['server'], 'a new listener address re-issues the server certificate');
  t.equal(moved.server.x509.checkIP('10.0.0.5'), '10.0.0.5');
  t.equal(moved.ca.fingerprint, first.ca.fingerprint, 'with the same CA');
  t.ok(moved.server.x509.checkPrivateKey((await import('node:crypto')).createPrivateKey(await readFile(p.serverKey))), 'and the same key');
});

t.test('a user gets a client certificate with CN = the name, signed by the CA; removal deletes it', async (t) => {
  const dir = await tempPki(t);
  await t.rejects(issueUser(dir, 'alice'), { code: 'AUTHZ_PKI_FAILED', message: /no CA/ }, 'needs the CA');
  const { paths } = await initPki(dir);
  const alice = await issueUser(dir, 'alice');
  t.equal(alice.action, 'created');
  t.equal(alice.info.cn, 'alice');
  const u = userPaths(paths, 'alice');
  t.equal((await stat(u.key)).mode & 0o777, 0o600);
  t.equal((await stat(u.dir)).mode & 0o777, 0o700);
  const cert = new X509Certificate(await readFile(u.cert));
  t.ok(cert.verify(new X509Certificate(await readFile(paths.caCert)).publicKey));
  t.match(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth only');
  t.equal(cert.subject, 'CN=alice');
  const days = (alice.info.notAfter.getTime() - Date.now()) / DAY;
  t.ok(days > CLIENT_DAYS - 2 && days <= CLIENT_DAYS + 1, `valid ${days.toFixed(1)} days`);

  t.equal((await issueUser(dir, 'alice')).action, 'kept', 'adding again keeps the certificate');
  await issueUser(dir, 'bob');
  t.same(
    (await listUsers(dir)).map((x) => [x.name, x.info?.cn]),
    [
      ['alice', 'alice'],
      ['bob', 'bob'],
    ],
  );
  const creds = await readUserCredentials(dir, 'bob');
  t.match(creds.key, /BEGIN PRIVATE KEY/);

  t.equal(await removeUser(dir, 'alice'), true);
  t.equal(await removeUser(dir, 'alice'), false, 'removing twice says there was none');
  t.same(await readdir(paths.usersDir), ['bob'], 'certificate and key are gone: there is no other copy');
  t.same(
    (await listUsers(dir)).map((x) => x.name),
    ['bob'],
  );
});

t.test('renewal: due within 30 days (or forced), same key, new certificate', async (t) => {
  const dir = await tempPki(t);
  const { paths } = await initPki(dir);
  const short = await issueUser(dir, 'carol', { days: 10 });
  await issueUser(dir, 'dave');
  const keyBefore = await readFile(userPaths(paths, 'carol').key, 'utf8');
  const r = await renewUsers(dir);
  t.same(
    r.map((x) => [x.name, x.action]),
    [
      ['carol', 'renewed'],
      ['dave', 'kept'],
    ],
  );
  const carol = r[0]!;
  t.ok(carol.info.notAfter.getTime() - short.info.notAfter.getTime() > 300 * DAY, 'a full new validity');
  t.equal(await readFile(userPaths(paths, 'carol').key, 'utf8'), keyBefore, 'the key is kept (cert.pem alone is replaced)');
  t.not(carol.info.fingerprint, short.info.fingerprint);

  const later = new Date(Date.now() + (CLIENT_DAYS - 20) * DAY);
  t.same(
    (await renewUsers(dir, { now: later })).map((x) => x.action),
    ['renewed', 'renewed'],
    'a year on, both are due',
  );
  t.same(
    (await renewUsers(dir, { force: true, names: ['dave'] })).map((x) => [x.name, x.action]),
    [['dave', 'renewed']],
  );
  t.same(
    (await readdir(dir)).filter((n) => n.startsWith('.')),
    [],
    'no scratch files left behind',
  );
});

t.test('a certificate from another CA is replaced', async (t) => {
  const dir = await tempPki(t);
  const other = await tempPki(t);
  await initPki(dir);
  await initPki(other);
  await issueUser(other, 'erin');
  const { rename, mkdir } = await import('node:fs/promises');
  await mkdir(userPaths(pkiPaths(dir), 'erin').dir, { recursive: true });
  for (const f of ['cert', 'key'] as const) await rename(userPaths(pkiPaths(other), 'erin')[f], userPaths(pkiPaths(dir), 'erin')[f]);
  t.equal((await issueUser(dir, 'erin')).action, 'renewed');
});

t.test('user names are held to the portable subset (they become a CN, a file name and a directory)', async (t) => {
  for (const ok of ['alice', 'build-bot', 'svc_ci', 'a.b', '_x', 'A1']) t.equal(userNameProblem(ok), undefined, ok);
  for (const bad of ['', '1abc', '-x', '.hidden', 'a/b', '..', 'a b', 'CN=x', 'x'.repeat(33), 'ü', '@anonymous'])
    t.match(userNameProblem(bad), /not a valid user name/, JSON.stringify(bad));
  const dir = await tempPki(t);
  await initPki(dir);
  await t.rejects(issueUser(dir, '../etc'), { code: 'AUTHZ_USER_INVALID' });
  await t.rejects(removeUser(dir, '../pki'), { code: 'AUTHZ_USER_INVALID' });
});
