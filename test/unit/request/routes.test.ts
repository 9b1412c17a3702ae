import t from 'tap';
import { ROUTE_TABLE } from '../../../src/request/route-table.js';
import { KNOWN_OPERATIONS, matchRoute } from '../../../src/request/routes.js';

t.test('anchored matching: a look-alike path is not the route it resembles', async (t) => {
  t.equal(matchRoute('POST', '/auth')?.route.op, 'system.auth');
  t.equal(matchRoute('POST', '/containers/authx/exec')?.route.op, 'container.exec.create');
  t.equal(matchRoute('POST', '/containers/create/start')?.route.op, 'container.start', 'a container named "create"');
  t.equal(matchRoute('GET', '/containers/json/x'), undefined);
  t.equal(matchRoute('POST', '/authx'), undefined);
});

t.test('greedy names span slashes where moby says {name:.*}', async (t) => {
  t.same(matchRoute('GET', '/images/localhost:5000/a/b:1/json')?.params, { name: 'localhost:5000/a/b:1' });
  t.equal(matchRoute('POST', '/images/a/b/push')?.route.op, 'image.push');
  t.equal(matchRoute('DELETE', '/plugins/vieux/sshfs:latest')?.route.op, 'plugin.delete');
});

t.test('methods matter', async (t) => {
  t.equal(matchRoute('HEAD', '/_ping')?.route.op, 'system.ping');
  t.equal(matchRoute('DELETE', '/_ping'), undefined);
  t.equal(matchRoute('GET', '/containers/create'), undefined);
});

t.test('the table is well-formed', async (t) => {
  const seen = new Set<string>();
  for (const r of ROUTE_TABLE) {
    const key = `${r.method} ${r.pattern}`;
    t.notOk(seen.has(key), `unique: ${key}`);
    seen.add(key);
    t.match(r.op, /^[a-z]+(\.[a-z]+)*$/, key);
  }
  t.ok(KNOWN_OPERATIONS.has('container.create') && KNOWN_OPERATIONS.size > 80);
});
