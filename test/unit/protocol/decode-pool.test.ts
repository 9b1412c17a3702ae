import t from 'tap';
import { createAuthzHandlers, type GreetingStore } from '../../../src/protocol/authz.js';
import { DecodePool } from '../../../src/protocol/decode-pool.js';
import { envelope, loadCorpus } from '../../helpers/corpus.js';
import { memoryLog } from '../../helpers/log.js';
import { defaultPolicy, policyFrom } from '../../helpers/policy.js';
import { pollUntil } from '../../helpers/wait.js';

// A big call is read and decoded by a worker; the main thread decides from what the worker made of
// it. Each call here is decided both ways, by two handlers with the same policy and greetings: the
// answers and the decision lines must be the same.

function greetings(): GreetingStore {
  const greeted = new Set(['@anonymous', 'alice']);
  return { isGreeted: (id) => greeted.has(id), anyGreeted: true, greet: (id) => (greeted.has(id) ? false : (greeted.add(id), true)) };
}

const bigEnv = Array.from({ length: 18_000 }, (_, i) => `BIG_${i}=0123456789abcdefghijklmnopqrstuvwxyz`);
const text = (v: unknown) => `${JSON.stringify(v)}\n`;

function cases(): string[] {
  const out: string[] = [];
  for (const entry of loadCorpus()) {
    for (const r of entry.requests) if (r.endpoint !== 'Plugin.Activate' && r.payload) out.push(text(r.payload));
  }
  const create = (body: Record<string, unknown>, uri = '/v1.41/containers/create') => text(envelope('POST', uri, body));
  out.push(
    '',
    'not json',
    '[]',
    '{"RequestMethod":"GET"}',
    '['.repeat(10_000),
    create({ Image: 'busybox', Env: bigEnv }),
    create({ Image: 'busybox', Env: bigEnv, HostConfig: { Privileged: true, Binds: ['/:/host'] } }),
    create({ Image: 'busybox', Env: bigEnv, HostConfig: { Privileged: true }, hostconfig: { Privileged: false } }),
    create({ Image: 'hello-world', Env: bigEnv }),
    create({ Image: 'busybox', Env: [...bigEnv, ...bigEnv] }), // 1 MiB or more: not judged
    create({ Image: 'busybox', Env: bigEnv, HostConfig: { CapAdd: 'SYS_ADMIN', Sysctls: { 'kernel.x': '1' } } }),
    create({ Image: 'busybox', Env: bigEnv, NetworkingConfig: { EndpointsConfig: { n: { IPAMConfig: { IPv4Address: '10.0.0.1' } } } } }),
    create({ Image: 'busybox', Env: bigEnv }, '/v1.41/containers/create?name=a%zz'),
    text({ ...envelope('POST', '/v1.41/images/create?fromImage=hello-world&tag=latest'), Pad: 'x'.repeat(100_000) }),
    text({ ...envelope('POST', '/v1.41/plugins/pull?remote=authz&name=authz'), Pad: 'x'.repeat(100_000) }),
    text({
      ...envelope('POST', '/v1.41/build?ulimits=%5B%7B%22Name%22%3A%22nofile%22%2C%22Hard%22%3A1%2C%22Soft%22%3A1%7D%5D'),
      Pad: 'x'.repeat(100_000),
    }),
    text({ ...envelope('POST', '/v1.41/containers/create', { Image: 'busybox', Env: bigEnv }), User: 'alice' }),
    text({ ...envelope('POST', '/v1.41/containers/create', { Image: 'busybox', Env: bigEnv }), User: '@root' }),
    text({
      ...envelope('POST', '/v1.41/containers/create', { Image: 'busybox', Env: bigEnv }),
      RequestHeaders: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }),
    text({ ...envelope('POST', '/v1.41/containers/create', { Image: 'hello-world', Env: bigEnv }), ResponseStatusCode: 201 }),
    text({ ...envelope('POST', '/v1.41/containers/create', { Image: 'hello-world', Env: bigEnv }), User: 'bob', ResponseStatusCode: 201 }),
    text({ ...envelope('POST', '/v1.41/containers/create'), RequestBody: 'not base64 %%%', Pad: 'x'.repeat(100_000) }),
    text({
      ...envelope('POST', '/v1.41/containers/create'),
      RequestBody: Buffer.from('{"Image":"a"}{"Image":"b"}').toString('base64'),
      Pad: 'x'.repeat(100_000),
    }),
  );
  return out;
}

// What a decision line says, without what differs from line to line (time, id).
const lines = (records: Record<string, unknown>[]) => records.map(({ time: _t, id: _i, ...rest }) => rest);

// A worker started from src/ compiles TypeScript first: seconds, more on a busy machine.
const LOAD = 120_000;
// One pool for both policies.
const shared = new DecodePool({ size: 1, startTimeoutMs: LOAD });
t.teardown(() => shared.close());

for (const [name, policy] of [
  ['default policy', defaultPolicy()],
  [
    'a policy with groups, allow rules and audit',
    policyFrom(
      'version: 1\nhello: { scope: global }\ngroups: { admins: [alice] }\nrules:\n  - { id: admins, kind: operations, effect: allow, operations: ["*"], groups: [admins] }\n  - { id: priv, kind: privileged, mode: audit }\n  - { id: mounts, kind: host-mounts, allowedPaths: [/srv] }\n',
    ),
  ],
] as const) {
  t.test(`${name}: decided from a worker's reading exactly as from the text`, async (t) => {
    const pool = shared;
    const mainLog = memoryLog();
    const poolLog = memoryLog();
    const onMain = createAuthzHandlers({ policy: () => policy, greetings: greetings(), log: mainLog });
    const viaPool = createAuthzHandlers({ policy: () => policy, greetings: greetings(), log: poolLog });
    let big = 0;
    for (const call of cases()) {
      const bytes = Buffer.from(call);
      if (bytes.length >= 64 * 1024) big++;
      const isResponse = call.includes('"ResponseStatusCode"');
      const [a, b] = isResponse
        ? [onMain.response(call), viaPool.response(await pool.prepare(bytes))]
        : [onMain.request(call), viaPool.request(await pool.prepare(bytes))];
      t.equal(b, a, call.slice(0, 120));
    }
    t.ok(big >= 15, `${big} big calls among them`);
    t.same(lines(poolLog.records), lines(mainLog.records), 'the same decision and greeting lines');
    t.ok(
      mainLog.records.some((r) => r.msg === 'hello' && r.identity === 'bob'),
      'a greeting recorded from a big create',
    );
  });
}

t.test('a worker that does not start or answer in time: the call is denied, saying why, and the worker replaced', async (t) => {
  const errors: string[] = [];
  const silent = new URL(
    `data:text/javascript,${encodeURIComponent("import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => {}); parentPort.postMessage({ ready: true });")}`,
  );
  const pool = new DecodePool({ size: 1, timeoutMs: 200, startTimeoutMs: LOAD, worker: silent, onError: (m) => errors.push(m) });
  t.teardown(() => pool.close());
  const log = memoryLog();
  const authz = createAuthzHandlers({ policy: defaultPolicy, greetings: greetings(), log });
  const call = Buffer.from(text(envelope('POST', '/v1.41/containers/create', { Image: 'busybox', Env: bigEnv })));
  const answer = JSON.parse(authz.request(await pool.prepare(call))) as { Allow: boolean; Msg: string };
  t.same(answer, {
    Allow: false,
    Msg: 'denied by rule internal-error: docker-authz could not decode this call: the decoding worker did not answer within 0.2 s',
  });
  t.match(log.records.at(-1), { msg: 'decision', allow: false, rule: 'internal-error', code: 'AUTHZ_INTERNAL' });
  t.match(errors, [/did not answer within 0\.2 s; the call is denied and the worker replaced/]);
  t.equal(authz.response(await pool.prepare(Buffer.from(call))), '{"Allow":true}', 'AuthZRes: nothing recorded, always answered');
  t.equal(errors.length, 2, 'by a new worker, which did not answer either');

  const stuck = new DecodePool({ size: 1, startTimeoutMs: 200, worker: new URL('data:text/javascript,setInterval(() => {}, 1000)') });
  t.teardown(() => stuck.close());
  t.match(await stuck.prepare(Buffer.from(call)), { failed: /the decoding worker did not start within 0\.2 s/ });
});

t.test('a worker that fails or dies: its call is denied, never allowed', async (t) => {
  const errors: string[] = [];
  const broken = new URL('data:text/javascript,process.exit(3)');
  const pool = new DecodePool({ size: 1, worker: broken, onError: (m) => errors.push(m) });
  t.teardown(() => pool.close());
  const authz = createAuthzHandlers({ policy: defaultPolicy, greetings: greetings(), log: memoryLog() });
  for (let i = 0; i < 2; i++) {
    const answer = JSON.parse(authz.request(await pool.prepare(Buffer.from(text(envelope('GET', '/_ping')))))) as {
      Allow: boolean;
      Msg: string;
    };
    t.equal(answer.Allow, false);
    t.equal(answer.Msg, 'denied by rule internal-error: docker-authz could not decode this call: the decoding worker exited (code 3)');
  }
  t.equal(errors.length, 2, 'each failure is reported');
  const throwing = new DecodePool({ size: 1, worker: new URL('data:text/javascript,throw new Error("broken worker")') });
  t.teardown(() => throwing.close());
  const p = await throwing.prepare(Buffer.from('{}'));
  t.match(p, { failed: /the decoding worker failed: broken worker/ });
});

t.test('workers start with the first big call and stop when idle; a closed pool fails what is asked of it', async (t) => {
  // A stand-in that answers every call with an empty envelope (the real worker is tested above).
  const echo = new URL(
    `data:text/javascript,${encodeURIComponent(
      "import { parentPort } from 'node:worker_threads'; parentPort.on('message', ({ id }) => parentPort.postMessage({ id, prepared: { env: {} } })); parentPort.postMessage({ ready: true });",
    )}`,
  );
  const pool = new DecodePool({ size: 1, idleMs: 50, startTimeoutMs: LOAD, worker: echo });
  t.equal(pool.workers, 0, 'none before the first call');
  t.same(await pool.prepare(Buffer.from('{}')), { env: {} });
  t.equal(pool.workers, 1);
  await pollUntil(() => pool.workers === 0, { timeoutMs: 10_000, what: 'the idle worker to stop' });
  t.same(await pool.prepare(Buffer.from('{}')), { env: {} }, 'started again when needed');
  await pool.close();
  t.equal(pool.workers, 0);
  t.match(await pool.prepare(Buffer.from('{}')), { failed: /stopping/ });
});
