#!/usr/bin/env node
// Worst-case cost of judging a request body: adversarial bodies just under the 1 MiB the plugin
// judges, each decoded by the one-pass decoder the plugin runs (text-decode.ts), by the reference
// tree decoder (json-parse.ts + go-decode.ts, used by the tests), and through normalize() from the
// base64 envelope. Target: linear, at most ~50 ms per MiB. Each case is also timed at a quarter
// of the size: a per-MiB cost that grows with size is a super-linear path.
//
//   npm run build && node scripts/bench-decoder.mjs        (or: npm run bench -- --decoder)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist/request');
const TARGET_MS_PER_MIB = 50;

const { JsonBody } = await import(join(DIST, 'json-body.js'));
const { parseJson } = await import(join(DIST, 'json-parse.js'));
const { decodeStruct } = await import(join(DIST, 'go-decode.js'));
const { normalize } = await import(join(DIST, 'normalize.js'));
const shapes = await import(join(DIST, 'docker-shapes.js'));

const LIMIT = 1024 * 1024 - 1; // the plugin refuses bodies of 1 MiB or more unjudged

function realCreate() {
  const dir = join(ROOT, 'test/fixtures/corpus');
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    for (const r of JSON.parse(readFileSync(join(dir, f), 'utf8')).requests) {
      const p = r.payload;
      if (r.endpoint === 'AuthZReq' && p?.RequestBody && String(p.RequestUri).includes('/containers/create')) {
        return Buffer.from(p.RequestBody, 'base64').toString('utf8');
      }
    }
  }
  throw new Error('no create body in the corpus');
}

// Repeats `item` (joined by `sep`) between `head` and `tail` to about `size` bytes.
function fill(size, head, item, tail, sep = ',') {
  const each = Buffer.byteLength(item) + sep.length;
  const n = Math.max(1, Math.floor((size - Buffer.byteLength(head) - Buffer.byteLength(tail)) / each));
  return head + Array(n).fill(item).join(sep) + tail;
}
const numbered = (size, head, make, tail) => {
  const parts = [];
  let len = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (let i = 0; ; i++) {
    const p = make(i);
    len += Buffer.byteLength(p) + 1;
    if (len > size) break;
    parts.push(p);
  }
  return head + parts.join(',') + tail;
};

const create = shapes.containerCreateShape;
const volume = shapes.volumeCreateShape;
const base = realCreate();
const CASES = [
  [
    'real create + 1 MiB of Env',
    create,
    (s) => base.replace('"Env":null', fill(s - base.length, '"Env":[', '"PATH=/usr/local/bin:/usr/bin"', ']')),
  ],
  ['Binds: many strings (judged)', create, (s) => fill(s, '{"HostConfig":{"Binds":[', '"/srv/a:/a:ro"', ']}}')],
  ['Mounts: many structs (judged)', create, (s) => fill(s, '{"Mounts":[', '{"Type":"bind","Source":"/a","Target":"/b"}', ']}')],
  ['Sysctls: many map entries', create, (s) => numbered(s, '{"HostConfig":{"Sysctls":{', (i) => `"net.k${i}":"1"`, '}}}')],
  ['many tiny unknown keys (top)', create, (s) => numbered(s, '{', (i) => `"k${i}":0`, '}')],
  ['many tiny unknown keys (HostConfig)', create, (s) => numbered(s, '{"HostConfig":{', (i) => `"k${i}":0`, '}}')],
  ['many non-ASCII keys (HostConfig)', create, (s) => numbered(s, '{"HostConfig":{', (i) => `"é${i}":0`, '}}')],
  ['one 1 MiB key', create, (s) => `{"${'a'.repeat(s - 8)}":0}`],
  ['one 1 MiB non-ASCII key', create, (s) => `{"${'é'.repeat((s - 8) / 2)}":0}`],
  ['many duplicate unknown keys', create, (s) => fill(s, '{', '"Env":0', '}')],
  ['many duplicate map keys', volume, (s) => fill(s, '{"DriverOpts":{', '"o":"x"', '}}')],
  ['\\u escapes in a judged string', create, (s) => fill(s, '{"Image":"', '\\u0041', '"}', '')],
  ['\\n escapes in a judged string', create, (s) => fill(s, '{"Image":"', '\\n', '"}', '')],
  ['escaped quotes in strings', create, (s) => fill(s, '{"Cmd":[', '"\\"\\"\\""', ']}')],
  ['\\u escapes in one key', create, (s) => fill(s, '{"', '\\u0041', '":0}', '')],
  ['nesting at the limit, repeated', create, (s) => fill(s, '{"Env":[', '['.repeat(250) + ']'.repeat(250), ']}')],
  ['nesting past the limit', create, (s) => '['.repeat(s)],
  ['many small numbers', create, (s) => fill(s, '{"Env":[', '1e400', ']}')],
  ['one 1 MiB number', create, (s) => `{"Env":${'1'.repeat(s - 9)}}`],
  ['whitespace', create, (s) => `{${' '.repeat(s - 2)}}`],
  ['tiny arrays, deep in judged slices', create, (s) => fill(s, '{"HostConfig":{"DeviceRequests":[', '{"Capabilities":[[],[]]}', ']}}')],
];

// CPU milliseconds (this process, GC threads included), the least of `runs`: on a shared machine
// wall time measures the neighbours.
function time(fn, runs) {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    try {
      fn();
    } catch {
      // a refusal is an answer; its cost is what is measured
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

const envelopeOf = (bytes) => ({
  RequestMethod: 'POST',
  RequestUri: '/v1.41/containers/create',
  RequestHeaders: { 'Content-Type': 'application/json', 'Content-Length': String(bytes.length) },
  RequestBody: bytes.toString('base64'),
});

export function runDecoderBench({ runs = Number(process.env.BENCH_DECODER_RUNS ?? 5) } = {}) {
  const rows = [];
  for (const [name, shape, make] of CASES) {
    const row = { name };
    for (const [label, size] of [
      ['quarter', Math.floor(LIMIT / 4)],
      ['full', LIMIT],
    ]) {
      const text = make(size);
      const bytes = Buffer.from(text);
      if (bytes.length > LIMIT) throw new Error(`${name}: ${bytes.length} bytes`);
      const mib = bytes.length / 2 ** 20;
      const fast = time(() => new JsonBody(bytes.toString('utf8')).decode(shape), runs) / mib;
      const exact = time(() => decodeStruct(parseJson(bytes.toString('utf8')).value, shape, ''), runs) / mib;
      row[label] = { fast, exact };
      if (label === 'full') {
        const env = envelopeOf(bytes);
        row.normalize = time(() => normalize(env), runs) / mib;
        const r = normalize(env);
        row.answer = r.ok ? 'judged' : r.code.replace('AUTHZ_', '').toLowerCase();
      }
    }
    rows.push(row);
  }
  const f = (n) => n.toFixed(1).padStart(7);
  console.log(`\nWorst-case body decoding, ms per MiB (least CPU time of ${runs}; target <= ${TARGET_MS_PER_MIB}; 1/4 MiB in brackets)\n`);
  console.log(`${'case'.padEnd(38)}  one-pass        tree (reference)   normalize  answer`);
  let worst = 0;
  for (const r of rows) {
    worst = Math.max(worst, r.normalize, r.full.fast);
    console.log(
      `${r.name.padEnd(38)} ${f(r.full.fast)} (${f(r.quarter.fast)}) ${f(r.full.exact)} (${f(r.quarter.exact)}) ${f(r.normalize)}   ${r.answer}`,
    );
  }
  console.log(`\nworst: ${worst.toFixed(1)} ms per MiB on the plugin's path (target <= ${TARGET_MS_PER_MIB})`);
  return worst;
}

if (import.meta.url === `file://${process.argv[1]}`) runDecoderBench();
