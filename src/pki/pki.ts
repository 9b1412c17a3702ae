import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { codes, codedError } from '../errors.js';
import { certInfo, newKeyPem, selfSignCa, signLeaf, type CertInfo } from './certs.js';
import { privateDir, writePrivateFile } from './files.js';
import { userNameProblem } from './names.js';
import { pkiPaths, userPaths, type PkiPaths } from './paths.js';

export const CA_DAYS = 7300;
// The daemon reads its certificate only when it starts, so the server certificate lives long: a
// renewed one takes effect at the next daemon restart.
export const SERVER_DAYS = 3650;
export const CLIENT_DAYS = 365;
export const RENEW_BEFORE_DAYS = 30;
const DAY = 86_400_000;

export const isDue = (info: CertInfo, now: Date, force = false): boolean =>
  force || info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY;

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

const readText = (p: string) => readFile(p, 'utf8');

// Scratch space for openssl inside the (root-only) PKI directory, removed afterwards.
async function withWork<T>(paths: PkiPaths, fn: (work: string) => Promise<T>): Promise<T> {
  const work = await mkdtemp(join(paths.dir, '.work-'));
  try {
    return await fn(work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function loadCa(paths: PkiPaths): Promise<CertInfo> {
  if (!(await exists(paths.caCert)) || !(await exists(paths.caKey)))
    throw codedError(codes.PKI_FAILED, `no CA in ${paths.dir}: run "docker-authz users init" first`);
  return certInfo(await readText(paths.caCert));
}

async function issue(paths: PkiPaths, keyFile: string, cert: string, spec: Parameters<typeof signLeaf>[3]): Promise<CertInfo> {
  const pem = await withWork(paths, (work) => signLeaf(work, { cert: paths.caCert, key: paths.caKey }, keyFile, spec));
  await writePrivateFile(cert, pem);
  return certInfo(pem);
}

export interface InitResult {
  readonly paths: PkiPaths;
  readonly ca: CertInfo;
  readonly server: CertInfo;
  /** What this call created or re-issued. */
  readonly changed: readonly string[];
}

/**
 * Makes sure the CA and the daemon's server certificate exist (idempotent). The server
 * certificate is re-issued, with the same key, when it is due, names other hosts than `serverHosts`
 * (plus 127.0.0.1 and localhost), or was not signed by this CA.
 */
export async function initPki(dir: string, opts: { serverHosts?: readonly string[]; now?: Date } = {}): Promise<InitResult> {
  const paths = pkiPaths(dir);
  const now = opts.now ?? new Date();
  const changed: string[] = [];
  await privateDir(paths.dir);
  await privateDir(paths.usersDir);
  const [hasCert, hasKey] = [await exists(paths.caCert), await exists(paths.caKey)];
  if (hasCert !== hasKey)
    throw codedError(
      codes.PKI_FAILED,
      `${paths.dir} has ${hasCert ? 'ca.pem but no ca-key.pem' : 'ca-key.pem but no ca.pem'}: restore it, or remove both to start a new CA (then every user certificate and the daemon's must be re-issued)`,
    );
  if (!hasCert) {
    await writePrivateFile(paths.caKey, await newKeyPem());
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
    const pem = await withWork(paths, (work) => selfSignCa(work, paths.caKey, `docker-authz CA ${host}`, CA_DAYS));
    await writePrivateFile(paths.caCert, pem);
    changed.push('ca');
  }
  const ca = certInfo(await readText(paths.caCert));

  const sans = [...new Set(['127.0.0.1', 'localhost', ...(opts.serverHosts ?? [])])];
  if (!(await exists(paths.serverKey))) await writePrivateFile(paths.serverKey, await newKeyPem());
  let server = (await exists(paths.serverCert)) ? certInfo(await readText(paths.serverCert)) : undefined;
  const stale =
    server === undefined ||
    isDue(server, now) ||
    !server.x509.verify(ca.x509.publicKey) ||
    sans.some((h) => (isIP(h) ? !server!.x509.checkIP(h) : !server!.x509.checkHost(h, { wildcards: false }))) ||
    !server.x509.checkPrivateKey(await keyObject(paths.serverKey));
  if (stale) {
    server = await issue(paths, paths.serverKey, paths.serverCert, { cn: 'docker-authz daemon', kind: 'server', sans, days: SERVER_DAYS });
    changed.push('server');
  }
  return { paths, ca, server: server!, changed };
}

const keyObject = async (file: string) => createPrivateKey(await readText(file));

export interface UserCert {
  readonly name: string;
  readonly info: CertInfo;
}

/**
 * Issues `name`'s client certificate (CN = name) if it has none, or renews it (same key) when it is
 * due, `force` is set, or it was not signed by this CA. Needs the CA (initPki).
 */
export async function issueUser(
  dir: string,
  name: string,
  opts: { now?: Date; force?: boolean; days?: number } = {},
): Promise<UserCert & { readonly action: 'created' | 'renewed' | 'kept' }> {
  const problem = userNameProblem(name);
  if (problem) throw codedError(codes.USER_INVALID, problem);
  const paths = pkiPaths(dir);
  const ca = await loadCa(paths);
  const user = userPaths(paths, name);
  await privateDir(paths.usersDir);
  const spec = { cn: name, kind: 'client' as const, days: opts.days ?? CLIENT_DAYS };
  if (!(await exists(user.key))) {
    await privateDir(user.dir);
    await rm(user.cert, { force: true });
    await writePrivateFile(user.key, await newKeyPem());
    return { name, info: await issue(paths, user.key, user.cert, spec), action: 'created' };
  }
  const current = (await exists(user.cert)) ? certInfo(await readText(user.cert)) : undefined;
  const renew =
    current === undefined ||
    isDue(current, opts.now ?? new Date(), opts.force) ||
    current.cn !== name ||
    !current.x509.verify(ca.x509.publicKey) ||
    !current.x509.checkPrivateKey(await keyObject(user.key));
  if (!renew) return { name, info: current, action: 'kept' };
  return { name, info: await issue(paths, user.key, user.cert, spec), action: current === undefined ? 'created' : 'renewed' };
}

/** Deletes `name`'s certificate and key, the only copy of them. false when there was none. */
export async function removeUser(dir: string, name: string): Promise<boolean> {
  const problem = userNameProblem(name);
  if (problem) throw codedError(codes.USER_INVALID, problem);
  const user = userPaths(pkiPaths(dir), name);
  if (!(await exists(user.dir))) return false;
  // The certificate first: a directory without it is not a user any more, whatever happens next.
  await rm(user.cert, { force: true });
  await rm(user.dir, { recursive: true, force: true });
  return true;
}

export interface PkiUser {
  readonly name: string;
  /** Undefined when the certificate is missing or unreadable; `problem` says why. */
  readonly info?: CertInfo;
  readonly problem?: string;
}

/** Every user with a directory in the PKI, by name. */
export async function listUsers(dir: string): Promise<PkiUser[]> {
  const paths = pkiPaths(dir);
  let names: string[];
  try {
    names = (await readdir(paths.usersDir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && !userNameProblem(e.name))
      .map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: PkiUser[] = [];
  for (const name of names.sort()) {
    try {
      out.push({ name, info: certInfo(await readText(userPaths(paths, name).cert)) });
    } catch (err) {
      out.push({ name, problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no certificate' : (err as Error).message });
    }
  }
  return out;
}

/** A user's certificate and key, as the gateway presents them to the daemon. */
export async function readUserCredentials(dir: string, name: string): Promise<{ cert: string; key: string; ca: string }> {
  const paths = pkiPaths(dir);
  const user = userPaths(paths, name);
  return { cert: await readText(user.cert), key: await readText(user.key), ca: await readText(paths.caCert) };
}

/** Renews every user certificate that is due (or all of `names`, with `force`). */
export async function renewUsers(
  dir: string,
  opts: { now?: Date; force?: boolean; names?: readonly string[] } = {},
): Promise<Array<UserCert & { action: 'created' | 'renewed' | 'kept' }>> {
  const names = opts.names ?? (await listUsers(dir)).map((u) => u.name);
  const out = [];
  for (const name of names) out.push(await issueUser(dir, name, { now: opts.now, force: opts.force }));
  return out;
}
