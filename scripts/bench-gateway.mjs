#!/usr/bin/env node
// What the user gateway adds to a Docker API call: `GET /containers/json` against a real dockerd
// with a TLS listener, directly over TLS with a user's client certificate (what the docker CLI
// does with DOCKER_HOST=tcp://... --tlsverify) and through the gateway's unix socket for that user,
// measured in the same run, interleaved, with the same client. No authorization plugin: its cost is
// the same on both paths. Needs root, dockerd and openssl; builds nothing (run `npm run build`).
//
//   node scripts/bench-gateway.mjs            BENCH_SAMPLES=3000 node scripts/bench-gateway.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 2000);
const FRESH = Number(process.env.BENCH_FRESH_SAMPLES ?? 300);
const USER = 'root'; // any account that exists; the daemon sees it as the certificate's CN
const { initPki, issueUser } = await import(join(ROOT, 'dist/pki/pki.js'));

const dir = mkdtempSync('/tmp/bgw-');
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
};
process.on('exit', () => {
  cleanup();
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(what, probe, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A minimal HTTP/1.1 client: one request at a time on a kept-alive connection.
function client(socket) {
  let buf = Buffer.alloc(0);
  let waiting;
  socket.on('data', (c) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    if (waiting && complete()) {
      const w = waiting;
      waiting = undefined;
      w();
    }
  });
  const complete = () => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const head = buf.subarray(0, end).toString('latin1');
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    const total = len ? end + 4 + Number(len[1]) : buf.indexOf('\r\n0\r\n\r\n', end) >= 0 ? buf.length : -1;
    if (total < 0 || buf.length < total) return false;
    if (!/^HTTP\/1\.1 200 /.test(head)) throw new Error(`unexpected response: ${head.split('\r\n')[0]}`);
    buf = buf.subarray(total);
    return true;
  };
  const request = Buffer.from('GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\nUser-Agent: bench\r\n\r\n');
  return {
    get() {
      return new Promise((resolve) => {
        waiting = resolve;
        socket.write(request);
      });
    },
    close: () => socket.destroy(),
  };
}

const openDirect = (port, creds) =>
  new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...creds }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
const openGateway = (path) =>
  new Promise((resolve, reject) => {
    const s = netConnect(path, () => resolve(s));
    s.once('error', reject);
  });

function stats(ns) {
  const ms = ns.map((n) => Number(n) / 1e6).sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

// ---------------------------------------------------------------------------------------------
const pki = join(dir, 'pki');
const { paths } = await initPki(pki);
await issueUser(pki, USER);
const creds = {
  ca: readFileSync(paths.caCert),
  cert: readFileSync(join(paths.usersDir, USER, 'cert.pem')),
  key: readFileSync(join(paths.usersDir, USER, 'key.pem')),
};
const port = await freePort();
const ns = `bench-${process.pid}`;
const dockerd = spawn(
  'dockerd',
  [
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '-H',
    `unix://${join(dir, 'docker.sock')}`,
    '-H',
    `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    `--tlscacert=${paths.caCert}`,
    `--tlscert=${paths.serverCert}`,
    `--tlskey=${paths.serverKey}`,
    '--storage-driver=vfs',
    '--iptables=false',
    '--bridge=none',
    `--containerd-namespace=${ns}`,
    `--containerd-plugins-namespace=${ns}-plugins`,
  ],
  { stdio: 'ignore' },
);
children.push(dockerd);
await waitFor('dockerd', () =>
  openDirect(port, creds).then(
    (s) => (s.destroy(), true),
    () => false,
  ),
);

const socketDir = join(dir, 'users');
const gateway = spawn(process.execPath, [CLI, 'gateway'], {
  cwd: dir,
  env: {
    ...process.env,
    AUTHZ_PKI_DIR: pki,
    AUTHZ_USERS_SOCKET_DIR: socketDir,
    AUTHZ_GATEWAY_SOCKET: join(dir, 'gateway.sock'),
    AUTHZ_DAEMON_TLS_ADDRESS: `127.0.0.1:${port}`,
    AUTHZ_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
children.push(gateway);
const userSocket = join(socketDir, `${USER}.sock`);
await waitFor('the gateway', () =>
  openGateway(userSocket).then(
    (s) => (s.destroy(), true),
    () => false,
  ),
);

// Kept-alive connections, interleaved in rounds so both see the same machine load.
const direct = client(await openDirect(port, creds));
const viaGateway = client(await openGateway(userSocket));
// warm-up (JIT, daemon caches)
for (let i = 0; i < 200; i++) {
  await direct.get();
  await viaGateway.get();
}
const times = { direct: [], gateway: [] };
for (let done = 0; done < SAMPLES; done += 50) {
  for (const [name, c] of [
    ['direct', direct],
    ['gateway', viaGateway],
  ]) {
    for (let i = 0; i < 50; i++) {
      const t0 = process.hrtime.bigint();
      await c.get();
      times[name].push(process.hrtime.bigint() - t0);
    }
  }
}
direct.close();
viaGateway.close();

// A new connection per call, as the docker CLI makes for each command (TLS handshake included).
const fresh = { direct: [], gateway: [] };
for (let i = 0; i < FRESH; i++) {
  for (const [name, open] of [
    ['direct', () => openDirect(port, creds)],
    ['gateway', () => openGateway(userSocket)],
  ]) {
    const t0 = process.hrtime.bigint();
    const c = client(await open());
    await c.get();
    fresh[name].push(process.hrtime.bigint() - t0);
    c.close();
  }
}

const row = (label, s) =>
  `${label.padEnd(28)}${s.p50.toFixed(3).padStart(9)}${s.p90.toFixed(3).padStart(9)}${s.p99.toFixed(3).padStart(9)}${s.mean.toFixed(3).padStart(9)}`;
const k = { direct: stats(times.direct), gateway: stats(times.gateway) };
const f = { direct: stats(fresh.direct), gateway: stats(fresh.gateway) };
console.log(`GET /containers/json on a real dockerd, ${SAMPLES} calls per path kept alive, ${FRESH} on new connections (ms)\n`);
console.log(`${''.padEnd(28)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}${'mean'.padStart(9)}`);
console.log(row('direct TLS, kept alive', k.direct));
console.log(row('gateway, kept alive', k.gateway));
console.log(row('direct TLS, new connection', f.direct));
console.log(row('gateway, new connection', f.gateway));
const added = k.gateway.p50 - k.direct.p50;
console.log(`\nadded by the gateway (kept alive, p50): ${added.toFixed(3)} ms (target <= 0.2)`);
console.log(`added by the gateway (new connection, p50): ${(f.gateway.p50 - f.direct.p50).toFixed(3)} ms`);
cleanup();
await new Promise((r) => dockerd.once('exit', r));
process.exit(0);
