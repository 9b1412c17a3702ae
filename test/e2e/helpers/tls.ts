// A TLS PKI made with openssl for daemons with a TLS listener: the daemon passes a verified client
// certificate's CN to authorization plugins as User.
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runOk } from '../../helpers/process.js';

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await runOk('openssl', args, { cwd: dir });
}

// A CA, a server certificate for 127.0.0.1, and client certificates whose CN is the identity.
export async function makePki(dir: string, users: string[]): Promise<void> {
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The docker CLI flags that connect to `port` as `user` (a client certificate made by makePki). */
export function tlsFlags(dir: string, port: number, user: string): string[] {
  return [
    '-H',
    `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    `--tlscacert=${join(dir, 'ca.pem')}`,
    `--tlscert=${join(dir, `${user}.pem`)}`,
    `--tlskey=${join(dir, `${user}-key.pem`)}`,
  ];
}

/** The dockerd flags for a TLS listener on 127.0.0.1:`port` that verifies clients against makePki's CA. */
export function tlsListenerFlags(dir: string, port: number): string[] {
  return [
    '-H',
    `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    `--tlscacert=${join(dir, 'ca.pem')}`,
    `--tlscert=${join(dir, 'server.pem')}`,
    `--tlskey=${join(dir, 'server-key.pem')}`,
  ];
}
