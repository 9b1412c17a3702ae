#!/usr/bin/env node
// docker-authz against the floor, in the same run, with the same client and payloads: a node:http
// plugin that does only what any AuthZ plugin must (JSON.parse the envelope, base64-decode the
// body, JSON.parse it) and answers Allow. docker-authz runs as in production: default policy,
// everyone greeted (so calls go through every rule), decision log on and written to a file.
//
//   npm run bench                       (builds first; about 2-3 minutes)
//   npm run bench -- --decoder          worst-case body decoding (scripts/bench-decoder.mjs)
//   npm run bench -- --gateway          the user gateway on a real dockerd (root; scripts/bench-gateway.mjs)
//   npm run bench -- --ownership        what the ownership rule costs per decision (scripts/bench-ownership.mjs)
//   BENCH_ROUNDS=15 BENCH_SECONDS=1 npm run bench
//   BENCH_OTHER=/path/to/other/dist/cli.js npm run bench   also runs another build, side by side
//   BENCH_METRICS=0 npm run bench       without the column for docker-authz with metrics served
//
// Throughput ratios are medians over interleaved rounds (floor, plugin, plugin, floor, ...): this
// machine is shared, and a noisy moment then hits both sides. Server CPU per call (utime + stime
// from /proc) is the steadier view of the same cost.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);
const LATENCY_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1000);
const BIG_CONNECTIONS = Number(process.env.BENCH_BIG_CONNECTIONS ?? 16);
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 2);

if (process.argv.includes('--decoder')) {
  const { runDecoderBench } = await import('./bench-decoder.mjs');
  runDecoderBench();
  process.exit(0);
}
if (process.argv.includes('--gateway')) {
  await import('./bench-gateway.mjs');
  process.exit(0);
}
if (process.argv.includes('--ownership')) {
  await import('./bench-ownership.mjs');
  process.exit(0);
}

// The targets of issue 12, as [limit, 'at least' | 'at most'].
const TARGETS = {
  c16: [0.8, 'min'],
  c1: [0.85, 'min'],
  cpu: [1.25, 'max'],
  p99: [0.3, 'max'],
  start: [0.25, 'max'],
  rss: [55, 'max'],
};

// ---- payloads: real AuthZReq envelopes from the corpus ----

function corpusPayloads() {
  const dir = join(ROOT, 'test/fixtures/corpus');
  const out = [];
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    for (const r of JSON.parse(readFileSync(join(dir, f), 'utf8')).requests) {
      if (r.endpoint === 'AuthZReq' && r.payload && !r.payload.User) out.push({ file: f, payload: r.payload });
    }
  }
  return out;
}

const call = (payload) => {
  const body = `${JSON.stringify(payload)}\n`;
  return Buffer.from(
    `POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\r\n${body}`,
  );
};

const corpus = corpusPayloads();
const mix = corpus.map((p) => call(p.payload));
// The largest real `docker create` (anonymous, so the greeting holds).
const createPayload = corpus
  .filter((p) => p.payload.RequestMethod === 'POST' && /\/containers\/create/.test(p.payload.RequestUri) && p.payload.RequestBody)
  .sort((a, b) => b.payload.RequestBody.length - a.payload.RequestBody.length)[0].payload;
const create = [call(createPayload)];
// `docker ps`, the small call of the fairness figure.
const ps = [call(corpus.find((p) => p.payload.RequestUri === '/v1.41/containers/json').payload)];
// A real create grown to just under the 1 MiB the daemon forwards, with a long Env.
function bigCreate() {
  const body = JSON.parse(Buffer.from(createPayload.RequestBody, 'base64').toString('utf8'));
  const base = Buffer.byteLength(JSON.stringify(body));
  const entry = 'BENCH_VARIABLE=0123456789abcdefghijklmnopqrstuvwxyz';
  body.Env = Array.from({ length: Math.floor((1024 * 1024 - 1024 - base) / (entry.length + 3)) }, () => entry);
  const text = JSON.stringify(body);
  return call({
    ...createPayload,
    RequestHeaders: { ...createPayload.RequestHeaders, 'Content-Length': String(Buffer.byteLength(text)) },
    RequestBody: Buffer.from(text).toString('base64'),
  });
}

// ---- servers ----

const FLOOR = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (text += d));
  req.on('end', () => {
    let allow = false;
    try {
      const env = JSON.parse(text);
      if (typeof env.RequestBody === 'string') JSON.parse(Buffer.from(env.RequestBody, 'base64').toString('utf8'));
      allow = typeof env.RequestUri === 'string';
    } catch {}
    const out = JSON.stringify({ Allow: allow });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 0;
server.listen(process.argv[1]);
`;

const dir = mkdtempSync(join(tmpdir(), 'authz-bench-'));
const stateDir = join(dir, 'state');
mkdirSync(stateDir, { recursive: true });
writeFileSync(join(stateDir, 'hello.json'), JSON.stringify({ version: 1, greeted: { '@anonymous': { at: new Date().toISOString() } } }));

// The floor, docker-authz, then the variants shown in further columns.
const SERVERS = {
  floor: (socket) => ({ args: ['-e', FLOOR, socket], env: {} }),
  'docker-authz': (socket) => plugin(join(ROOT, 'dist/cli.js'), socket),
  // As production runs with AUTHZ_METRICS set: prom-client loaded, the exporter listening.
  ...(process.env.BENCH_METRICS !== '0' && {
    '+metrics': (socket) =>
      plugin(join(ROOT, 'dist/cli.js'), socket, { AUTHZ_METRICS: `unix:${socket.replace(/\.sock$/, '-metrics.sock')}` }),
  }),
  ...(process.env.BENCH_OTHER && { other: (socket) => plugin(process.env.BENCH_OTHER, socket) }),
};

function plugin(cli, socket, env = {}) {
  return {
    args: [cli, 'serve'],
    env: {
      AUTHZ_SOCKET: socket,
      AUTHZ_STATE_DIR: stateDir,
      AUTHZ_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      AUTHZ_POLICY: '',
      AUTHZ_ENV_FILE: '',
      ...env,
    },
  };
}

let started = 0;
// Starts a server and answers when it has answered its first call: [child, seconds to that answer].
async function start(name) {
  const socket = join(dir, `${name.replace(/\W/g, '')}-${started++}.sock`);
  const { args, env } = SERVERS[name](socket);
  // The decision log goes to a file, as with pm2 or journald; reading it here would load the client.
  const log = openSync(join(dir, `${name.replace(/\W/g, '')}.log`), 'a');
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited || Date.now() > deadline) throw new Error(`${name} did not start`);
    const conn = await openConnection(socket).catch(() => undefined);
    if (conn) {
      await conn.send(ps[0]);
      conn.close();
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { name, child, socket, startSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

// ---- a minimal keep-alive HTTP/1.1 client: one call in flight per connection, like the daemon ----

function openConnection(socket) {
  return new Promise((resolve, reject) => {
    const s = connect(socket, () => resolve(conn));
    s.once('error', reject);
    let pending = null;
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const head = buf.indexOf('\r\n\r\n');
      if (head === -1) return;
      const m = /content-length: (\d+)/i.exec(buf.subarray(0, head).toString('latin1'));
      const total = head + 4 + (m ? Number(m[1]) : 0);
      if (buf.length < total) return;
      buf = buf.subarray(total);
      const done = pending;
      pending = null;
      done();
    });
    const conn = {
      send: (bytes) =>
        new Promise((res) => {
          pending = res;
          s.write(bytes);
        }),
      close: () => s.destroy(),
    };
  });
}

// /proc/<pid>/stat: utime + stime, in seconds.
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const median = (xs) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

async function latencies(conn, requests, samples) {
  const ms = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    await conn.send(requests[i % requests.length]);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

// Calls per second at `concurrency` for `seconds` (after a short warm-up), and server CPU per call.
async function throughput(server, requests, concurrency, seconds = SECONDS) {
  const conns = await Promise.all(Array.from({ length: concurrency }, () => openConnection(server.socket)));
  const warmUntil = Date.now() + 200;
  let count = 0;
  let stop = false;
  let t0 = 0n;
  let cpu0 = 0;
  await Promise.all(
    conns.map(async (c, k) => {
      for (let i = k; !stop; i++) {
        await c.send(requests[i % requests.length]);
        if (t0 === 0n) {
          if (Date.now() < warmUntil) continue;
          t0 = process.hrtime.bigint();
          cpu0 = cpuSeconds(server.child.pid);
          continue;
        }
        count++;
        if (Number(process.hrtime.bigint() - t0) >= seconds * 1e9) stop = true;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(server.child.pid) - cpu0;
  conns.forEach((c) => c.close());
  return { rate: count / elapsed, cpuUs: (cpu / count) * 1e6 };
}

// p99 of `docker ps` calls on one connection, alone and while BIG_CONNECTIONS others send 1 MiB creates.
async function fairness(server, big) {
  const small = await openConnection(server.socket);
  await latencies(small, ps, 200);
  const alone = await latencies(small, ps, 500);
  const bigConns = await Promise.all(Array.from({ length: BIG_CONNECTIONS }, () => openConnection(server.socket)));
  let stop = false;
  let bigCalls = 0;
  const loops = bigConns.map(async (c) => {
    while (!stop) {
      await c.send(big);
      bigCalls++;
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const loaded = [];
  while (Date.now() - t0 < 3000) loaded.push(...(await latencies(small, ps, 20)));
  stop = true;
  await Promise.all(loops);
  [small, ...bigConns].forEach((c) => c.close());
  loaded.sort((a, b) => a - b);
  return {
    alone: quantile(alone, 0.99),
    loaded: quantile(loaded, 0.99),
    loadedP50: quantile(loaded, 0.5),
    smallCalls: loaded.length,
    bigCalls,
  };
}

// ---- the run ----

const names = Object.keys(SERVERS);
const results = Object.fromEntries(names.map((n) => [n, { start: [], rss: 0 }]));
console.log(`docker-authz benchmark: node ${process.version}, ${ROUNDS} rounds of ${SECONDS}s per figure, interleaved\n`);

// Start time to the first answered call, median of three cold starts each.
for (let i = 0; i < 3; i++) {
  for (const name of i % 2 ? [...names].reverse() : names) {
    const s = await start(name);
    results[name].start.push(s.startSeconds);
    s.child.kill('SIGKILL');
  }
}

const servers = {};
for (const name of names) servers[name] = await start(name);
await new Promise((r) => setTimeout(r, 1000));
for (const name of names) results[name].rss = rssMiB(servers[name].child.pid);

const SETS = [
  ['create', create, `a real docker create (${create[0].length} bytes)`],
  ['mix', mix, `the corpus mix (${mix.length} real calls)`],
];
try {
  for (const [set, requests] of SETS) {
    for (const name of names) {
      results[name][set] = { c1: [], c16: [], cpu1: [], cpu16: [], p99: [] };
      // Warm-up: let the JITs settle on this payload set (the plugin has more code to compile than
      // the floor, whose work is mostly JSON.parse: a short warm-up would measure compilation).
      await throughput(servers[name], requests, 4, WARM_SECONDS);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of r % 2 ? [...names].reverse() : names) {
        const res = results[name][set];
        const conn = await openConnection(servers[name].socket);
        const lat = await latencies(conn, requests, LATENCY_SAMPLES);
        conn.close();
        res.p99.push(quantile(lat, 0.99));
        const one = await throughput(servers[name], requests, 1);
        res.c1.push(one.rate);
        res.cpu1.push(one.cpuUs);
        const many = await throughput(servers[name], requests, 16);
        res.c16.push(many.rate);
        res.cpu16.push(many.cpuUs);
      }
    }
  }
  const big = bigCreate();
  for (const name of names) results[name].fair = await fairness(servers[name], big);
} finally {
  for (const s of Object.values(servers)) s.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

// ---- the report ----

const [floorName, oursName, ...extraNames] = names;
const floor = results[floorName];
const ours = results[oursName];
const extras = extraNames.map((n) => results[n]);
const col = (s, w = 13) => String(s).padStart(w);
const meets = ([limit, kind], value) => ((kind === 'min' ? value >= limit : value <= limit) ? 'yes' : 'NO');
// A line: the floor's figure, docker-authz's, its ratio to the floor, the target and whether it is
// met, then each variant's figure and ratio.
const row = (label, pick, { ratio, target, unit = '', digits = 1 } = {}) => {
  const f = pick(floor);
  const o = pick(ours);
  const r = ratio?.(ours);
  const shown = r ?? o;
  const goal = target ? `${target[1] === 'min' ? '>=' : '<='} ${target[0]}${unit}` : '';
  const extra = extras.map((x) => `${col(pick(x).toFixed(digits))}${col(ratio ? ratio(x).toFixed(2) : '')}`).join('');
  console.log(
    `${label.padEnd(34)}${col(f.toFixed(digits))}${col(o.toFixed(digits))}${col(r === undefined ? '' : r.toFixed(2))}   ${goal.padEnd(12)}${(target ? meets(target, shown) : '').padEnd(3)}${extra}`,
  );
};

console.log(
  `${''.padEnd(34)}${col('floor')}${col('docker-authz')}${col('ratio')}   ${'target'.padEnd(12)}met${extraNames.map((n) => `${col(n)}${col('ratio')}`).join('')}`,
);
for (const [set, , title] of SETS) {
  // Each round's figure against the floor's of the same round, then the median.
  const perRound = (key) => (r) => median(r[set][key].map((x, i) => x / floor[set][key][i]));
  const med = (key) => (r) => median(r[set][key]);
  console.log(`\n${title}`);
  row('  calls/s at 16 connections', med('c16'), { ratio: perRound('c16'), target: TARGETS.c16, unit: 'x', digits: 0 });
  row('  calls/s at 1 connection', med('c1'), { ratio: perRound('c1'), target: TARGETS.c1, unit: 'x', digits: 0 });
  row('  server CPU us/call, c=16', med('cpu16'), { ratio: perRound('cpu16'), target: TARGETS.cpu, unit: 'x' });
  row('  server CPU us/call, c=1', med('cpu1'), { ratio: perRound('cpu1') });
  row('  p99 ms at 1 connection', med('p99'), { target: TARGETS.p99, unit: ' ms', digits: 3 });
}
console.log('\nprocess');
row('  start to first answered call, s', (r) => median(r.start), { target: TARGETS.start, unit: ' s', digits: 3 });
row('  idle RSS, MiB', (r) => r.rss, { target: TARGETS.rss, unit: ' MiB' });
console.log(`\nfairness: docker ps alone, and while ${BIG_CONNECTIONS} other connections send ~1 MiB creates`);
row('  p99 ms, alone', (r) => r.fair.alone, { digits: 3 });
row('  p50 ms, beside 1 MiB creates', (r) => r.fair.loadedP50, { digits: 3 });
row('  p99 ms, beside 1 MiB creates', (r) => r.fair.loaded, { ratio: (r) => r.fair.loaded / floor.fair.loaded });
row('  1 MiB creates answered in 3 s', (r) => r.fair.bigCalls, { digits: 0 });
console.log(
  `\nratio: against the floor (throughput and CPU: the median of per-round ratios); met: docker-authz against issue 12${
    extraNames.includes('+metrics') ? '; +metrics: docker-authz serving metrics (AUTHZ_METRICS)' : ''
  }`,
);
