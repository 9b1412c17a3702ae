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
