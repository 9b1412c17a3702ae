import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect, createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { listUsers, readUserCredentials, renewUsers } from '../pki/pki.js';
import { lookupAccounts } from './passwd.js';
import { relay, type Relay } from './relay.js';
import { listenOwned, unlinkIfSame } from './socket-file.js';

export interface GatewayOptions {
  readonly pkiDir: string;
  readonly socketDir: string;
  readonly daemon: { readonly host: string; readonly port: number };
  readonly log: Logger;
}

export interface ServedUser {
  readonly name: string;
  readonly socket: string;
  readonly uid: number;
  readonly notAfter: string;
  readonly connections: number;
}

export interface ReloadResult {
  readonly users: readonly ServedUser[];
  /** Users in the PKI that are not served, and why. */
  readonly errors: ReadonlyArray<{ readonly user: string; readonly message: string }>;
}

export interface Gateway {
  /** Re-reads the users (PKI + passwd); with `renew`, renews certificates that are due first. Serialized. */
  reload(opts?: { renew?: boolean }): Promise<ReloadResult>;
  status(): ReloadResult;
  /** Stops listening, removes the sockets, ends every connection. */
  stop(): Promise<void>;
}

interface Served {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly socket: string;
  readonly ino: number;
  readonly server: Server;
  readonly conns: Set<Relay>;
  context: SecureContext;
  fingerprint: string;
  notAfter: Date;
}

interface Wanted {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly context: SecureContext;
  readonly fingerprint: string;
  readonly notAfter: Date;
}

/**
 * The user gateway: one unix socket per user (NAME.sock in `socketDir`, owned by that user, 0600:
 * the file system is the authentication), each connection relayed to the daemon's TLS listener
 * with that user's client certificate, so the daemon — and the authorization plugin — see the
 * user's name. It decides nothing.
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { log, daemon } = opts;
  const served = new Map<string, Served>();
  let lastErrors: ReloadResult['errors'] = [];
  let nextConn = 1;
  let stopped = false;

  await mkdir(opts.socketDir, { recursive: true, mode: 0o711 });
  // Others must be able to reach their own socket; listing the directory is not needed.
  await chmod(opts.socketDir, 0o711);

  const describeFailure = (name: string) => (err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `the Docker daemon's TLS listener at ${daemon.host}:${daemon.port}`;
    if (code === 'ECONNREFUSED')
      return `docker-authz gateway: nothing listens on ${where}; is dockerd configured for the user gateway (docker-authz users init)?`;
    if (/alert|certificate|verify/i.test(err.message))
      return `docker-authz gateway: TLS with ${where} failed for ${name} (${err.message}); check that dockerd uses the CA and server certificate in ${opts.pkiDir}`;
    return `docker-authz gateway: cannot reach ${where} (${err.message})`;
  };

  const onConnection = (user: Served, client: Socket) => {
    const id = nextConn++;
    // allowHalfOpen is honoured by tls.connect (passed to the TLSSocket) but missing from its types.
    const tlsOptions: ConnectionOptions & { allowHalfOpen: boolean } = {
      host: daemon.host,
      port: daemon.port,
      secureContext: user.context,
      allowHalfOpen: true,
    };
    const upstream = connect(tlsOptions);
    log.info({ user: user.name, conn: id }, 'connection opened');
    const r = relay(client, upstream, describeFailure(user.name), (end) => {
      user.conns.delete(r);
      log.info({ user: user.name, conn: id, ...end }, 'connection closed');
    });
    user.conns.add(r);
  };

  const drop = async (user: Served, closeConnections: boolean) => {
    served.delete(user.name);
    user.server.close();
    await unlinkIfSame(user.socket, user.ino);
    if (closeConnections) for (const c of user.conns) c.destroy();
  };

  const serve = async (w: Wanted): Promise<Served> => {
    const socket = join(opts.socketDir, `${w.name}.sock`);
    const conns = new Set<Relay>();
    // eslint-disable-next-line prefer-const -- assigned once the listener exists
    let user: Served;
    const server = createServer({ allowHalfOpen: true }, (client) => onConnection(user, client));
    server.on('error', (err) => log.error({ err, user: w.name }, 'listener error'));
    const ino = await listenOwned(server, socket, { uid: w.uid, gid: w.gid });
    user = { ...w, socket, ino, server, conns };
    return user;
  };

  // What the PKI and passwd say should be served now.
  const wanted = async (): Promise<{ wanted: Wanted[]; errors: Array<{ user: string; message: string }> }> => {
    const errors: Array<{ user: string; message: string }> = [];
    const users = await listUsers(opts.pkiDir);
    const accounts = await lookupAccounts(users.map((u) => u.name));
    const out: Wanted[] = [];
    const now = Date.now();
    for (const u of users) {
      const account = accounts.get(u.name);
      if (!u.info) errors.push({ user: u.name, message: u.problem ?? 'no certificate' });
      else if (!account) errors.push({ user: u.name, message: `there is no Unix user "${u.name}" (getent passwd)` });
      else if (u.info.notAfter.getTime() <= now)
        errors.push({ user: u.name, message: `certificate expired ${u.info.notAfter.toISOString()}: docker-authz users renew ${u.name}` });
      else {
        try {
          const creds = await readUserCredentials(opts.pkiDir, u.name);
          const context = createSecureContext({ ca: creds.ca, cert: creds.cert, key: creds.key });
          out.push({
            name: u.name,
            uid: account.uid,
            gid: account.gid,
            context,
            fingerprint: u.info.fingerprint,
            notAfter: u.info.notAfter,
          });
        } catch (err) {
          errors.push({ user: u.name, message: `cannot load the certificate: ${(err as Error).message}` });
        }
      }
    }
    return { wanted: out, errors };
  };

  const status = (): ReloadResult => ({
    users: [...served.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((u) => ({ name: u.name, socket: u.socket, uid: u.uid, notAfter: u.notAfter.toISOString(), connections: u.conns.size })),
    errors: lastErrors,
  });

  const doReload = async (renew: boolean): Promise<ReloadResult> => {
    if (stopped) return status();
    if (renew) {
      try {
        for (const r of await renewUsers(opts.pkiDir)) {
          if (r.action !== 'kept') log.info({ user: r.name, notAfter: r.info.notAfter.toISOString() }, 'certificate renewed');
        }
      } catch (err) {
        log.error({ err }, 'certificate renewal failed');
      }
    }
    let next: Awaited<ReturnType<typeof wanted>>;
    try {
      next = await wanted();
    } catch (err) {
      // Cannot tell who is a user now: keep serving who was, and say so.
      log.error({ err }, 'reload failed; the previous users stay served');
      lastErrors = [{ user: '*', message: (err as Error).message }];
      return status();
    }
    const errors = next.errors;
    const byName = new Map(next.wanted.map((w) => [w.name, w]));
    for (const user of [...served.values()]) {
      const w = byName.get(user.name);
      if (!w) {
        await drop(user, true);
        log.info({ user: user.name, closed: user.conns.size }, 'user removed: socket gone, connections closed');
      } else if (w.uid !== user.uid || w.gid !== user.gid) {
        // The account was re-created: nobody connected under the old owner keeps a connection.
        await drop(user, true);
      }
    }
    for (const w of next.wanted) {
      const current = served.get(w.name);
      if (current && (await sameSocket(current))) {
        if (current.fingerprint !== w.fingerprint) {
          // New connections use the new certificate; open ones keep theirs.
          current.context = w.context;
          current.fingerprint = w.fingerprint;
          current.notAfter = w.notAfter;
          log.info({ user: w.name, notAfter: w.notAfter.toISOString() }, 'certificate reloaded');
        }
        continue;
      }
      // Missing (new user) or its socket file was removed or replaced: listen again. Open
      // connections of the old listener are kept.
      if (current) await drop(current, false);
      try {
        const user = await serve(w);
        served.set(w.name, user);
        log.info({ user: w.name, socket: user.socket, uid: w.uid }, 'serving user');
      } catch (err) {
        errors.push({ user: w.name, message: `cannot listen: ${(err as Error).message}` });
      }
    }
    await removeStrays();
    for (const e of errors) log.warn({ user: e.user, problem: e.message }, 'user not served');
    lastErrors = errors;
    const result = status();
    log.info({ users: result.users.map((u) => u.name), notServed: errors.map((e) => e.user) }, 'users loaded');
    return result;
  };

  const sameSocket = async (u: Served) => {
    try {
      return (await lstat(u.socket)).ino === u.ino;
    } catch {
      return false;
    }
  };

  // Sockets in the directory that nobody serves (a previous gateway was killed, a user removed
  // while the gateway was down): a connection to them would hang or fail confusingly.
  const removeStrays = async () => {
    const mine = new Set([...served.values()].map((u) => `${u.name}.sock`));
    for (const entry of await readdir(opts.socketDir, { withFileTypes: true })) {
      if (entry.isSocket() && entry.name.endsWith('.sock') && !mine.has(entry.name))
        await rm(join(opts.socketDir, entry.name), { force: true });
    }
  };

  let chain: Promise<unknown> = Promise.resolve();
  const reload = (o: { renew?: boolean } = {}): Promise<ReloadResult> => {
    const p = chain.then(() => doReload(o.renew ?? false));
    chain = p.catch(() => undefined);
    return p;
  };

  await reload({ renew: true });

  return {
    reload,
    status,
    async stop() {
      stopped = true;
      await chain;
      for (const user of [...served.values()]) await drop(user, true);
    },
  };
}
