import t, { type Test } from 'tap';
import { evaluate } from '../../../../src/policy/evaluate.js';
import type { StateView } from '../../../../src/policy/state-view.js';
import { ObjectStore } from '../../../../src/state/objects.js';
import { StateStore } from '../../../../src/state/store.js';
import { envelope } from '../../../helpers/corpus.js';
import { everyoneGreeted, policyFrom, request } from '../../../helpers/policy.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const policy = policyFrom(`
version: 1
hello: { enabled: false }
groups: { admins: [root-cert], team: [carol, dave] }
rules:
  - id: ownership
    kind: ownership
    exceptUsers: ["@anonymous"]
    exceptGroups: [admins]
    sharedGroups: [team]
  - id: no-privileged
    kind: privileged
  - id: host-paths
    kind: host-mounts
`);

function records(t: Test): { objects: ObjectStore; state: StateView } {
  const store = new StateStore(t.testdir({}));
  t.teardown(() => store.close());
  const objects = new ObjectStore(store);
  objects.notReady = undefined;
  objects.created({ kind: 'container', id: A, name: 'bobs-web', owner: 'bob' });
  objects.created({ kind: 'container', id: B, name: 'alices-web', owner: 'alice' });
  objects.created({ kind: 'volume', id: 'bobs-data', owner: 'bob' });
  objects.created({ kind: 'network', id: C, name: 'bobs-net', owner: 'bob' });
  objects.created({ kind: 'exec', id: 'e'.repeat(64), owner: 'bob', parent: A });
  objects.reconcile('network', [
    { id: 'd'.repeat(64), name: 'bridge' },
    { id: C, name: 'bobs-net' },
  ]);
  objects.reconcile('container', [
    { id: A, name: 'bobs-web' },
    { id: B, name: 'alices-web' },
    { id: 'f'.repeat(64), name: 'old' },
  ]);
  return { objects, state: { ...everyoneGreeted, objects } };
}

const as = (user: string | undefined, method: string, uri: string, body?: unknown) =>
  request({ ...envelope(method, uri, body), ...(user && { User: user }) });

t.test("alice cannot touch bob's container by name, full ID, prefix, or after a rename; bob can", async (t) => {
  const { objects, state } = records(t);
  const decide = (user: string | undefined, method: string, uri: string, body?: unknown) =>
    evaluate(policy, as(user, method, uri, body), state);
  for (const ref of ['bobs-web', A, 'aaaa']) {
    for (const [method, path] of [
      ['POST', `/v1.41/containers/${ref}/exec`],
      ['GET', `/v1.41/containers/${ref}/logs?stdout=1`],
      ['GET', `/v1.41/containers/${ref}/json`],
      ['GET', `/v1.41/containers/${ref}/archive?path=/`],
      ['POST', `/v1.41/containers/${ref}/stop`],
      ['DELETE', `/v1.41/containers/${ref}`],
      ['POST', `/v1.41/containers/${ref}/rename?name=mine`],
      ['POST', `/v1.41/commit?container=${ref}`],
    ] as const) {
      const body = path.endsWith('/exec') ? { Cmd: ['sh'] } : undefined;
      t.match(
        decide('alice', method, path, body),
        { allow: false, rule: 'ownership', message: /belongs to bob: only its owner and administrators/ },
        `${method} ${path}`,
      );
      t.ok(decide('bob', method, path, body).allow, `bob: ${method} ${path}`);
    }
  }
  t.match(decide('alice', 'POST', '/v1.41/commit?container=%2Fbobs-web'), { allow: false }, 'a name with its leading slash');
  objects.renamed('container', A, 'renamed');
  t.match(decide('alice', 'POST', '/v1.41/containers/renamed/start'), { allow: false, message: /container "renamed" belongs to bob/ });
  t.match(decide('alice', 'POST', '/v1.41/containers/bobs-web/start'), {
    allow: false,
    message: /cannot be resolved: no container "bobs-web"/,
  });
  t.ok(decide(undefined, 'POST', '/v1.41/containers/renamed/start').allow, '@anonymous (root) is an administrator here');
  t.ok(decide('root-cert', 'POST', '/v1.41/containers/renamed/start').allow, 'so are the admins group');
  t.ok(decide('alice', 'POST', '/v1.41/containers/alices-web/start').allow, 'her own');
});

t.test("alice cannot mount bob's volume, join bob's container or use bob's network and exec", async (t) => {
  const { state } = records(t);
  const create = (user: string, body: Record<string, unknown>) =>
    evaluate(policy, as(user, 'POST', '/v1.41/containers/create', { Image: 'busybox', ...body }), state);
  t.match(create('alice', { HostConfig: { Binds: ['bobs-data:/d'] } }), {
    allow: false,
    message:
      'denied by rule ownership: HostConfig.Binds[0] "bobs-data" is a volume that belongs to bob: only its owner and administrators may use it',
  });
  t.match(create('alice', { HostConfig: { Mounts: [{ Type: 'volume', Source: 'bobs-data', Target: '/d' }] } }), { allow: false });
  t.match(create('alice', { HostConfig: { PidMode: 'container:bobs-web' } }), {
    allow: false,
    message: /PidMode "bobs-web" is a container that belongs to bob/,
  });
  t.match(create('alice', { HostConfig: { NetworkMode: 'container:aaaa' } }), { allow: false });
  t.match(create('alice', { HostConfig: { VolumesFrom: ['bobs-web:ro'] } }), { allow: false });
  t.match(create('alice', { HostConfig: { Links: ['bobs-web:db'] } }), { allow: false });
  t.match(create('alice', { HostConfig: { NetworkMode: 'bobs-net' } }), { allow: false, message: /network that belongs to bob/ });
  t.match(create('alice', { NetworkingConfig: { EndpointsConfig: { 'bobs-net': {} } } }), { allow: false });
  t.ok(
    create('alice', { HostConfig: { NetworkMode: 'bridge', Binds: ['new-volume:/d'] } }).allow,
    "the daemon's networks and a new volume",
  );
  t.ok(create('bob', { HostConfig: { Binds: ['bobs-data:/d'], NetworkMode: 'bobs-net', VolumesFrom: ['bobs-web'] } }).allow);
  t.match(evaluate(policy, as('alice', 'POST', `/v1.41/exec/${'e'.repeat(64)}/start`, { Detach: true }), state), {
    allow: false,
    message: /exec "e+" belongs to bob/,
  });
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/networks/bobs-net/connect', { Container: 'alices-web' }), state), { allow: false });
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/networks/bridge/connect', { Container: 'bobs-web' }), state), {
    allow: false,
    message: /Container "bobs-web" is a container that belongs to bob/,
  });
  t.ok(evaluate(policy, as('alice', 'POST', '/v1.41/networks/bridge/connect', { Container: 'alices-web' }), state).allow);
  t.match(evaluate(policy, as('alice', 'DELETE', '/v1.41/volumes/bobs-data'), state), { allow: false });
  t.match(evaluate(policy, as('alice', 'DELETE', '/v1.41/volumes/nothing'), state), { allow: false, message: /is not known/ });
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/build?networkmode=container:bobs-web'), state), { allow: false });
});

t.test('shared groups share; prunes are for admins; lists are not filtered', async (t) => {
  const { objects, state } = records(t);
  objects.created({ kind: 'container', id: '1'.repeat(64), name: 'carols', owner: 'carol' });
  t.ok(evaluate(policy, as('dave', 'POST', '/v1.41/containers/carols/stop'), state).allow, 'dave and carol share a group');
  t.notOk(evaluate(policy, as('alice', 'POST', '/v1.41/containers/carols/stop'), state).allow);
  for (const prune of ['/v1.41/containers/prune', '/v1.41/volumes/prune', '/v1.41/networks/prune']) {
    t.match(evaluate(policy, as('alice', 'POST', prune), state), { allow: false, message: /only administrators may prune/ });
    t.ok(evaluate(policy, as(undefined, 'POST', prune), state).allow);
  }
  t.ok(evaluate(policy, as('alice', 'GET', '/v1.41/containers/json?all=1'), state).allow);
});

t.test('objects the plugin did not see created are for administrators; adopted ones are judged by their settings', async (t) => {
  const { objects, state } = records(t);
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/containers/old/start'), state), {
    allow: false,
    message: /was not created through docker-authz .* only administrators may use it; .*owners adopt/,
  });
  t.ok(evaluate(policy, as(undefined, 'POST', '/v1.41/containers/old/start'), state).allow);
  const privileged = JSON.stringify({
    inspect: { Config: { Image: 'busybox' }, HostConfig: { Privileged: true, Binds: ['/etc:/h'] }, Mounts: [] },
    defaults: { logDriver: 'json-file', runtime: 'runc', cgroupnsMode: 'host' },
  });
  objects.created({ kind: 'container', id: 'f'.repeat(64), owner: null, config: privileged });
  t.ok(objects.adopt('container', 'f'.repeat(64), 'alice'));
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/containers/old/start'), state), {
    allow: false,
    message:
      /container "old" was not created through docker-authz and its settings \(no-privileged\): --privileged \(HostConfig\.Privileged\) gives the container full access to the host$/,
  });
  t.ok(evaluate(policy, as('alice', 'POST', '/v1.41/containers/old/stop'), state).allow, 'stopping it is fine');
  t.match(evaluate(policy, as('alice', 'POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { VolumesFrom: ['old'] } }), state), {
    allow: false,
  });
});

t.test('fails closed: records not in step with the daemon, unreadable, or absent', async (t) => {
  const { objects, state } = records(t);
  objects.notReady = "docker-authz cannot read the daemon's objects (connect ENOENT)";
  t.match(evaluate(policy, as('bob', 'POST', '/v1.41/containers/bobs-web/stop'), state), {
    allow: false,
    message: /cannot be checked yet: docker-authz cannot read the daemon's objects \(connect ENOENT\); try again shortly/,
  });
  t.ok(evaluate(policy, as('bob', 'GET', '/v1.41/containers/json'), state).allow, 'calls that name no object are not held up');
  t.match(evaluate(policy, as('bob', 'POST', '/v1.41/containers/bobs-web/stop'), everyoneGreeted), {
    allow: false,
    message: /no records of who created what/,
  });
});
