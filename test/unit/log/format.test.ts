import t from 'tap';
import { decisionLog } from '../../../src/log/decision-log.js';
import { memoryLog } from '../../helpers/log.js';

t.test('decision lines and ordinary log lines share one format', async (t) => {
  const log = memoryLog('info');
  log.log.info({ policy: '/etc/p.yaml' }, 'listening');
  decisionLog(log)({
    identity: 'alice',
    method: 'GET',
    path: '/containers/json',
    op: 'container.list',
    allow: false,
    rule: 'r',
    reason: 'denied by rule r: x',
  });
  const [ordinary, decision] = log.records;
  const shape = { level: 'info', time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, name: 'docker-authz' };
  t.match(ordinary, { ...shape, msg: 'listening' });
  t.match(decision, { ...shape, msg: 'decision', identity: 'alice', op: 'container.list', allow: false, rule: 'r' });
  t.same(Object.keys(ordinary!).slice(0, 3), ['level', 'time', 'name'], 'same leading keys, in the same order');
  t.same(Object.keys(decision!).slice(0, 3), ['level', 'time', 'name']);
  t.equal(Object.keys(ordinary!).at(-1), 'msg');
  t.equal(Object.keys(decision!).at(-1), 'msg');
});

t.test('no decision line below the info level', async (t) => {
  const log = memoryLog('warn');
  decisionLog(log)({ identity: 'a', method: 'GET', path: '/', op: 'x', allow: true, rule: undefined });
  t.same(log.records, []);
});

t.test('a decision line holds exactly the fields given, in a fixed order, whatever was cached before', async (t) => {
  const log = memoryLog('info');
  const write = decisionLog(log);
  const cases = [
    { identity: 'alice', method: 'GET', path: '/containers/json', op: 'container.list', allow: true, rule: undefined },
    { identity: 'alice', method: 'GET', path: '/containers/json', op: 'container.list', allow: true, rule: undefined },
    {
      identity: 'b\u00f6b "quoted"',
      method: 'POST',
      path: '/containers/create',
      op: 'container.create',
      image: 'busybox',
      allow: true,
      audit: true as const,
      rule: 'no-privileged',
      reason: 'denied by rule no-privileged: HostConfig.Privileged true',
      policy: 'abcdef012345',
    },
    {
      identity: '@anonymous',
      method: 42,
      path: undefined,
      op: undefined,
      allow: false,
      rule: 'request-integrity',
      reason: 'x',
      code: 'AUTHZ_REQUEST_MALFORMED',
    },
    { identity: 'x'.repeat(300), method: 'GET', path: '/_ping', op: 'system.ping', allow: true, rule: undefined },
  ];
  for (const c of cases) write(c);
  t.equal(log.records.length, cases.length);
  const order = ['identity', 'method', 'path', 'op', 'image', 'allow', 'audit', 'rule', 'reason', 'code', 'policy'];
  log.records.forEach((r, i) => {
    const { level, time, name, id, msg, ...fields } = r;
    t.match({ level, time, name, msg }, { level: 'info', time: String, name: 'docker-authz', msg: 'decision' });
    t.match(id, /^[0-9a-f]{8}-\d+$/);
    const given = Object.fromEntries(Object.entries(cases[i]!).filter(([, v]) => v !== undefined));
    t.same(fields, given, `case ${i}`);
    t.same(
      Object.keys(fields),
      order.filter((k) => k in given),
      `case ${i}: key order`,
    );
  });
  t.not(log.records[0]!.id, log.records[1]!.id, 'each line has its own id');
});
