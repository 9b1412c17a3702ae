import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startPolicyLifecycle, type LastGoodStore, type ReloadSignal } from '../../../src/policy/lifecycle.js';
import { request } from '../../helpers/policy.js';
import { memoryLog } from '../../helpers/log.js';
import { evaluate } from '../../../src/policy/evaluate.js';
import { envelope } from '../../helpers/corpus.js';

const OPEN = 'version: 1\nhello: {enabled: false}\nrules: []\n';
const NO_PS = 'version: 1\nhello: {enabled: false}\nrules:\n  - id: no-ps\n    kind: operations\n    operations: [container.list]\n';
const BROKEN = 'version: 1\nhello: {enabled: false}\nrules:\n  - id: x\n    kind: privilegd\n';

const PS = request(envelope('GET', '/v1.41/containers/json'));
const PING = request(envelope('HEAD', '/_ping'));
const nobody = { greetings: { isGreeted: () => false, anyGreeted: false } };

function memoryLastGood(): LastGoodStore & { saved: { source: string; text: string; sha256: string; at: string } | undefined } {
  const store = {
    saved: undefined as { source: string; text: string; sha256: string; at: string } | undefined,
    load: () => store.saved,
    save: (p: { source: string; text: string; sha256: string }) => {
      store.saved = { ...p, at: '2026-01-01T00:00:00.000Z' };
    },
  };
  return store;
}

function start(t: Test, file: string, lastGood = memoryLastGood(), peers?: ReloadSignal) {
  const log = memoryLog();
  const lc = startPolicyLifecycle({
    file,
    pluginName: 'authz',
    log: log.log,
    lastGood,
    ...(peers && { peers, peerPollMs: 20 }),
    watchDebounceMs: 50,
  });
  t.teardown(() => lc.close());
  const decide = (req = PS) => evaluate(lc.current(), req, nobody);
  return { lc, log, lastGood, decide };
}

t.test('a valid file is put in force and saved as the last good policy', async (t) => {
  const file = join(t.testdir({ 'p.yaml': NO_PS }), 'p.yaml');
  const { lc, lastGood, decide } = start(t, file);
  t.match(lc.status(), { state: 'file', source: file, rules: 1, sha256: /^[0-9a-f]{64}$/ });
  t.equal(lc.status().rejected, undefined);
  t.match(decide(), { allow: false, rule: 'no-ps' });
  t.equal(lastGood.saved?.text, NO_PS);
});

t.test('a broken file at start serves the last good policy and says why', async (t) => {
  const dir = t.testdir({ 'p.yaml': NO_PS });
  const file = join(dir, 'p.yaml');
  const lastGood = memoryLastGood();
  start(t, file, lastGood).lc.close();
  writeFileSync(file, BROKEN);
  const { lc, log, decide } = start(t, file, lastGood);
  t.match(lc.status(), { state: 'last-known-good', rules: 1, rejected: { file, errors: [new RegExp(`^${file}:5:11: `)] } });
  t.match(decide(), { allow: false, rule: 'no-ps' }, 'the rules of the last good policy hold');
  t.match(log.records, [{ level: 'error', errors: [/p\.yaml:5:11/], msg: /serving the last good policy/ }]);
});

t.test('a broken file and nothing saved: deny everything but the handshake, saying how to fix it', async (t) => {
  const file = join(t.testdir({ 'p.yaml': BROKEN }), 'p.yaml');
  const { lc, log, decide } = start(t, file);
  t.match(lc.status(), { state: 'deny-all', rules: 0 });
  t.match(decide(), {
    allow: false,
    rule: 'policy-invalid',
    message: new RegExp(`^denied by rule policy-invalid: docker-authz has no valid policy \\(${file}:5:11: .*docker-authz reload`),
  });
  t.match(decide(PING), { allow: true }, 'the CLI still gets through its handshake, then sees the denial');
  t.match(log.records, [{ level: 'error', msg: /every request is DENIED/ }]);

  writeFileSync(file, OPEN);
  t.match(lc.reload('explicit'), { ok: true });
  t.match(lc.status(), { state: 'file' });
  t.equal(lc.status().rejected, undefined, 'the rejection is cleared once a valid file is in force');
  t.match(decide(), { allow: true });
});

t.test('a rejected reload keeps the policy in force', async (t) => {
  const file = join(t.testdir({ 'p.yaml': NO_PS }), 'p.yaml');
  const { lc, decide } = start(t, file);
  writeFileSync(file, BROKEN);
  t.match(lc.reload('explicit'), { ok: false, errors: [/p\.yaml:5:11/] });
  t.match(lc.status(), { state: 'file', rejected: { errors: [/5:11/] } });
  t.match(decide(), { allow: false, rule: 'no-ps' });
});

t.test('a half-written in-place edit is never loaded; a replacement is', async (t) => {
  const dir = t.testdir({ 'p.yaml': NO_PS });
  const file = join(dir, 'p.yaml');
  const { lc, log, decide } = start(t, file);
  const waitFor = (pred: () => boolean) =>
    new Promise<void>((resolve) => {
      const poll = setInterval(() => pred() && (clearInterval(poll), resolve()), 10);
    });
  // First half of a policy that would allow everything: valid YAML, one rule fewer.
  writeFileSync(file, OPEN);
  await waitFor(() => log.records.some((r) => /modified in place/.test(String(r.msg))));
  t.match(decide(), { allow: false, rule: 'no-ps' }, 'the in-place write did not take effect');
  t.equal(lc.status().sha256, lastSha(NO_PS), 'still the policy read at start');

  writeFileSync(`${file}.new`, OPEN);
  renameSync(`${file}.new`, file);
  await waitFor(() => lc.status().rules === 0);
  t.match(decide(), { allow: true }, 'the replacement took effect');
  t.match(log.records.at(-1), { msg: 'policy reloaded', trigger: 'replaced' });
});

t.test('an explicit reload in one worker reaches the others through the shared counter', async (t) => {
  const file = join(t.testdir({ 'p.yaml': OPEN }), 'p.yaml');
  let generation = 0;
  const peers: ReloadSignal = { generation: () => generation, bump: () => ++generation };
  const a = start(t, file, memoryLastGood(), peers);
  const b = start(t, file, memoryLastGood(), peers);
  writeFileSync(file, NO_PS); // in place: only an explicit reload loads it
  t.match(a.lc.reload('explicit'), { ok: true });
  t.equal(generation, 1);
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => b.lc.status().rules === 1 && (clearInterval(poll), resolve()), 10);
  });
  t.match(b.decide(), { allow: false, rule: 'no-ps' }, 'the other worker follows');
  t.match(b.log.records.at(-1), { msg: 'policy reloaded', trigger: 'peer' });
});

function lastSha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
