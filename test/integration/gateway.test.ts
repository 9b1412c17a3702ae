/**
 * The user gateway as it runs (`docker-authz gateway`, a child process), in front of a stand-in
 * daemon: a TLS server that verifies client certificates against the PKI's CA, as dockerd does
 * with --tlsverify, and then echoes or floods. Checks what users rely on: the socket's owner and
 * mode, the identity the daemon sees, bytes passed unchanged both ways, half-close, backpressure
 * (memory stays flat under a flood read slowly), a reload that keeps open connections, a removed
 * user's socket and connections going away at once, and a clear HTTP error when the daemon is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import t from 'tap';
import { callGateway } from '../../src/gateway/control.js';
import { pkiPaths } from '../../src/pki/paths.js';
import { initPki, issueUser, removeUser } from '../../src/pki/pki.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const MiB = 1024 * 1024;

function* flood(total: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, total - sent));
}

// The stand-in daemon. The first line a client sends picks the behaviour: "ECHO" answers with the
// peer's CN and serial, then echoes until the client half-closes; "FLOOD n" sends n bytes.
async function fakeDaemon(pki: string): Promise<{ port: number; close(): Promise<void> }> {
  const p = pkiPaths(pki);
  const server = tls.createServer(
    {
      key: readFileSync(p.serverKey),
      cert: readFileSync(p.serverCert),
      ca: readFileSync(p.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      allowHalfOpen: true,
    },
    (s) => {
      const peer = s.getPeerCertificate();
      let head = Buffer.alloc(0);
      const onData = (c: Buffer) => {
        head = Buffer.concat([head, c]);
        const nl = head.indexOf(0x0a);
        if (nl < 0) return;
        s.off('data', onData);
        const cmd = head.subarray(0, nl).toString();
        const rest = head.subarray(nl + 1);
        if (cmd === 'ECHO') {
          s.write(`CN=${peer.subject.CN} SERIAL=${peer.serialNumber}\n`);
          if (rest.length) s.write(rest);
          s.pipe(s);
        } else if (cmd.startsWith('FLOOD ')) Readable.from(flood(Number(cmd.slice(6)))).pipe(s);
        else s.destroy();
      };
      s.on('data', onData);
      s.on('error', () => undefined);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface GatewayProc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startGatewayProcess(env: Record<string, string>, cwd: string): Promise<GatewayProc> {
  const child = spawn(process.execPath, [CLI, 'gateway'], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    partial += c.toString();
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      try {
        lines.push(JSON.parse(partial.slice(0, nl)) as Record<string, unknown>);
      } catch {
        // not a log line
      }
      partial = partial.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const waitFor = (pred: (l: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no gateway log line matching ${pred.toString()}\n${JSON.stringify(lines)}\n${stderr}`));
      }, 15_000);
      waiters.add(check);
      check();
    });
  await waitFor((l) => l.msg === 'gateway listening');
  return {
    child,
    lines,
    waitFor,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A raw connection to a unix socket, with everything it received. */
function open(path: string): Promise<{ sock: net.Socket; received: () => Buffer; ended: Promise<void>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((r) => sock.once('end', () => r()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.once('error', reject);
    sock.once('connect', () => resolve({ sock, received: () => Buffer.concat(chunks), ended, closed }));
  });
}

async function until(cond: () => boolean, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setImmediate(r));
  }
}

function vm(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) * 1024;
}

t.test('the user gateway in front of a TLS daemon', async (t) => {
  t.equal(process.getuid?.(), 0, 'runs as root (it chowns sockets to users)');
  const dir = await mkdtemp('/tmp/gwi-');
  await chmod(dir, 0o711);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = join(dir, 'pki');
  await initPki(pki);
  await issueUser(pki, 'root');
  await issueUser(pki, 'nobody');
  await issueUser(pki, 'no-such-user-here');
  const daemon = await fakeDaemon(pki);
  t.teardown(() => daemon.close());
  const socketDir = join(dir, 'run', 'users');
  const control = join(dir, 'run', 'gateway.sock');
  const env = {
    AUTHZ_PKI_DIR: pki,
    AUTHZ_USERS_SOCKET_DIR: socketDir,
    AUTHZ_GATEWAY_SOCKET: control,
    AUTHZ_DAEMON_TLS_ADDRESS: `127.0.0.1:${daemon.port}`,
  };
  const gw = await startGatewayProcess(env, dir);
  t.teardown(() => gw.stop());
  const rootSock = join(socketDir, 'root.sock');
  const nobodySock = join(socketDir, 'nobody.sock');

  await t.test('one socket per user: owned by the user, mode 0600, in a directory others can only traverse', async (t) => {
    t.equal((await stat(socketDir)).mode & 0o777, 0o711);
    const r = await stat(rootSock);
    const n = await stat(nobodySock);
    t.ok(n.isSocket());
    t.equal(n.uid, 65534, 'nobody.sock belongs to nobody');
    t.equal(n.mode & 0o777, 0o600);
    t.equal(r.uid, 0);
    t.equal(r.mode & 0o777, 0o600);
    t.notOk(existsSync(join(socketDir, 'no-such-user-here.sock')), 'a certificate without a Unix account gets no socket');
    const status = await callGateway(control, 'GET', '/status');
    t.same(
      status?.users.map((u) => u.name),
      ['nobody', 'root'],
    );
    t.match(status?.errors, [{ user: 'no-such-user-here', message: /no Unix user/ }]);
    t.equal((await stat(control)).mode & 0o777, 0o600, 'the control socket is root-only');
  });

  await t.test('the daemon sees the user; bytes pass unchanged both ways; half-close keeps the other direction', async (t) => {
    const c = await open(rootSock);
    const payload = randomBytes(5 * MiB);
    c.sock.write('ECHO\n');
    c.sock.end(payload); // half-close: "stdin is done", the answer still comes
    await c.ended;
    const got = c.received();
    const nl = got.indexOf(0x0a);
    t.match(got.subarray(0, nl).toString(), /^CN=root SERIAL=/, 'the daemon saw the client certificate of root');
    t.ok(got.subarray(nl + 1).equals(payload), '5 MiB of random bytes came back unchanged after the half-close');
    await c.closed;
    const closed = await gw.waitFor((l) => l.msg === 'connection closed' && l.user === 'root');
    t.match(closed, { user: 'root', bytesIn: 5 + payload.length, bytesOut: got.length, durationMs: Number });
  });

  await t.test("a user cannot use another user's socket; their own works", async (t) => {
    const probe = (path: string) =>
      new Promise<string>((resolve) => {
        // runuser, not spawn's uid option: tap instruments node children it spawns directly.
        const child = spawn(
          'runuser',
          [
            '-u',
            'nobody',
            '--',
            'env',
            '-u',
            'NODE_OPTIONS',
            process.execPath,
            '-e',
            `const s=require('net').createConnection(process.argv[1]);s.on('error',e=>{console.log(e.code);process.exit(0)});s.on('connect',()=>s.write('ECHO\\n'));s.once('data',d=>{console.log(String(d).split(' ')[0]);process.exit(0)})`,
            path,
          ],
          { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('close', () => resolve(out.trim()));
      });
    t.equal(await probe(rootSock), 'EACCES', "nobody may not connect to root's socket");
    t.equal(await probe(nobodySock), 'CN=nobody', 'nobody reaches the daemon as nobody through its own');
  });

  await t.test('backpressure: a flood read slowly does not grow the gateway', async (t) => {
    const pid = gw.child.pid!;
    const before = vm(pid, 'VmRSS');
    const total = 256 * MiB;
    const c = await open(rootSock);
    let got = 0;
    c.sock.removeAllListeners('data');
    c.sock.on('data', (chunk: Buffer) => {
      got += chunk.length;
      // A reader slower than the daemon: stop for a moment every 4 MiB.
      if (got % (4 * MiB) < chunk.length) {
        c.sock.pause();
        setTimeout(() => c.sock.resume(), 2);
      }
    });
    c.sock.end(`FLOOD ${total}\n`);
    await c.closed;
    t.equal(got, total, 'every byte arrived');
    const peak = vm(pid, 'VmHWM');
    t.ok(
      peak - before < 64 * MiB,
      `peak RSS ${(peak / MiB).toFixed(1)} MiB, ${((peak - before) / MiB).toFixed(1)} MiB above the start (bound: 64)`,
    );
  });

  await t.test('a reload (a renewed certificate) keeps open connections; new ones use the new certificate', async (t) => {
    const c = await open(nobodySock);
    c.sock.write('ECHO\nbefore ');
    await until(() => c.received().includes('before '), 'the first echo');
    const serial1 = /SERIAL=(\w+)/.exec(c.received().toString())?.[1];
    await issueUser(pki, 'nobody', { force: true });
    const result = await callGateway(control, 'POST', '/reload');
    t.ok(
      result?.users.some((u) => u.name === 'nobody' && u.connections === 1),
      'nobody is still served, with its connection',
    );
    c.sock.end('after');
    await c.ended;
    t.match(c.received().toString(), /before after$/, 'the open connection went on across the reload');
    const d = await open(nobodySock);
    d.sock.end('ECHO\n');
    await d.ended;
    const serial2 = /SERIAL=(\w+)/.exec(d.received().toString())?.[1];
    t.ok(serial1 && serial2 && serial1 !== serial2, `a new connection presents the renewed certificate (${serial1} -> ${serial2})`);
  });

  await t.test('removing a user closes the socket and every open connection at once', async (t) => {
    const c = await open(nobodySock);
    c.sock.write('ECHO\n');
    await until(() => c.received().length > 0, 'the echo greeting');
    await removeUser(pki, 'nobody');
    gw.child.kill('SIGHUP');
    await c.ended; // the gateway closed its end: the client reads EOF
    await gw.waitFor((l) => l.msg === 'user removed: socket gone, connections closed' && l.user === 'nobody');
    t.notOk(existsSync(nobodySock), 'the socket is gone');
    t.ok(existsSync(rootSock), 'the other user is untouched');
  });

  await t.test('when the daemon is down, the client gets an HTTP error that says so', async (t) => {
    await daemon.close();
    const c = await open(rootSock);
    c.sock.write('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n');
    await c.ended;
    const text = c.received().toString();
    t.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    t.match(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)), {
      message: /nothing listens on the Docker daemon's TLS listener at 127\.0\.0\.1:\d+/,
    });
  });
});
