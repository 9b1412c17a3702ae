import { generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { openssl } from './openssl.js';

export interface CertInfo {
  readonly cn: string;
  readonly notAfter: Date;
  readonly fingerprint: string;
  /** subjectAltName entries as openssl prints them, e.g. `IP Address:127.0.0.1`, `DNS:localhost`. */
  readonly sans: readonly string[];
  readonly x509: X509Certificate;
}

export function certInfo(pem: string): CertInfo {
  const x509 = new X509Certificate(pem);
  const cn = /^CN=(.*)$/m.exec(x509.subject)?.[1] ?? '';
  const sans = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { cn, notAfter: new Date(x509.validTo), fingerprint: x509.fingerprint256, sans, x509 };
}

/** A new EC P-256 key (fast handshakes; Go and OpenSSL both take it), PKCS#8 PEM. */
export function newKeyPem(): Promise<string> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'ec',
      { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, _pub, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

// Random, positive, 127 bits: no serial file to keep in step, and no two certificates share one.
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return `0x${b.toString('hex')}`;
}

// The names are validated before they get here; the config is still written as a file so that no
// value ever passes through -subj's escaping rules.
const subjectConfig = (cn: string) => `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ${cn}\n`;

/** A self-signed CA certificate for the key in `keyFile`, written under `work` (a private scratch dir). */
export async function selfSignCa(work: string, keyFile: string, cn: string, days: number): Promise<string> {
  await writeFile(
    join(work, 'ca.cnf'),
    `${subjectConfig(cn)}[v3]\nbasicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n`,
    { mode: 0o600 },
  );
  await openssl(
    [
      'req',
      '-new',
      '-x509',
      '-key',
      keyFile,
      '-config',
      'ca.cnf',
      '-extensions',
      'v3',
      '-sha256',
      '-days',
      String(days),
      '-set_serial',
      serial(),
      '-out',
      'ca.pem',
    ],
    work,
  );
  return readFile(join(work, 'ca.pem'), 'utf8');
}

export interface LeafSpec {
  readonly cn: string;
  /** `server`: the daemon's listener (serverAuth, with `sans`); `client`: a user (clientAuth). */
  readonly kind: 'server' | 'client';
  /** IP addresses and DNS names for a server certificate. */
  readonly sans?: readonly string[];
  readonly days: number;
}

const sanEntry = (h: string) => (isIP(h) ? `IP:${h}` : `DNS:${h}`);

/** A certificate for the key in `keyFile`, signed by the CA; scratch files go to `work`. */
export async function signLeaf(work: string, ca: { cert: string; key: string }, keyFile: string, spec: LeafSpec): Promise<string> {
  const ext = [
    '[v3]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${spec.kind === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(spec.kind === 'server' ? [`subjectAltName = ${[...new Set(spec.sans ?? [])].map(sanEntry).join(', ')}`] : []),
  ].join('\n');
  await writeFile(join(work, 'req.cnf'), subjectConfig(spec.cn), { mode: 0o600 });
  await writeFile(join(work, 'ext.cnf'), `${ext}\n`, { mode: 0o600 });
  await openssl(['req', '-new', '-key', keyFile, '-config', 'req.cnf', '-out', 'req.csr'], work);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'req.csr',
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      serial(),
      '-sha256',
      '-days',
      String(spec.days),
      '-extfile',
      'ext.cnf',
      '-extensions',
      'v3',
      '-out',
      'leaf.pem',
    ],
    work,
  );
  return readFile(join(work, 'leaf.pem'), 'utf8');
}
