#!/usr/bin/env node
// What the ownership rule costs on the hot path: the default policy's decision for container-scoped
// calls by a TLS user, with and without the ownership rule, against a state database holding 2,000
// containers (by name, by ID prefix), and for a call that names no object (docker ps). In process,
// on the built modules, medians of interleaved rounds. Issue 10's target: at most 0.1 ms per call.
//
//   npm run bench -- --ownership
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIST = new URL('../dist/', import.meta.url).pathname;
const { StateStore } = await import(`${DIST}state/store.js`);
const { ObjectStore } = await import(`${DIST}state/objects.js`);
const { loadPolicyFile } = await import(`${DIST}policy/load.js`);
const { compilePolicy } = await import(`${DIST}policy/compile.js`);
const { evaluate } = await import(`${DIST}policy/evaluate.js`);
const { normalize } = await import(`${DIST}request/normalize.js`);

const dir = mkdtempSync(join(tmpdir(), 'authz-bench-own-'));
const store = new StateStore(dir);
const objects = new ObjectStore(store);
objects.notReady = undefined;
for (let i = 0; i < 2000; i++) {
  objects.created({ kind: 'container', id: i.toString(16).padStart(64, '0'), name: `c${i}`, owner: i % 2 ? 'alice' : 'bob' });
}
const loaded = loadPolicyFile(undefined);
const withRule = compilePolicy(loaded.policy, loaded.source);
const without = compilePolicy({ ...loaded.policy, rules: loaded.policy.rules.filter((r) => r.kind !== 'ownership') }, loaded.source);
const state = { greetings: { isGreeted: () => true, anyGreeted: true }, objects };
const as = (method, uri) => normalize({ User: 'alice', RequestMethod: method, RequestUri: uri }).request;
const calls = {
  'stop by name': as('POST', '/v1.41/containers/c1001/stop'),
  'logs by ID prefix': as('GET', '/v1.41/containers/00000000000003e9/logs'),
  'ps (no object)': as('GET', '/v1.41/containers/json'),
};

const perCall = (policy, req, n = 20_000) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) evaluate(policy, req, state);
  return Number(process.hrtime.bigint() - t0) / n / 1000;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log('ownership rule cost per decision (µs, median of 9 interleaved rounds; target: at most 100)');
for (const [label, req] of Object.entries(calls)) {
  perCall(withRule, req);
  perCall(without, req);
  const a = [];
  const b = [];
  for (let r = 0; r < 9; r++) {
    a.push(perCall(withRule, req));
    b.push(perCall(without, req));
  }
  const cost = median(a) - median(b);
  console.log(
    `  ${label.padEnd(20)} with ${median(a).toFixed(2).padStart(7)}  without ${median(b).toFixed(2).padStart(7)}  cost ${cost.toFixed(2).padStart(7)}  ${cost <= 100 ? 'ok' : 'OVER'}`,
  );
}
store.close();
rmSync(dir, { recursive: true, force: true });
