import { join } from 'node:path';

/**
 * Layout of the PKI directory (root-only: directories 0700, every file 0600):
 *
 *   ca.pem, ca-key.pem                  the local CA the daemon trusts (--tlscacert)
 *   server-cert.pem, server-key.pem     the daemon's TLS listener (--tlscert, --tlskey)
 *   users/NAME/cert.pem, key.pem        one client certificate per user, CN = NAME
 *
 * Renewal replaces cert.pem alone (same key), so a reader never sees a key and certificate that do
 * not belong together.
 */
export interface PkiPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly usersDir: string;
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    serverCert: join(dir, 'server-cert.pem'),
    serverKey: join(dir, 'server-key.pem'),
    usersDir: join(dir, 'users'),
  };
}

export function userPaths(paths: PkiPaths, name: string): { readonly dir: string; readonly cert: string; readonly key: string } {
  const dir = join(paths.usersDir, name);
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}
