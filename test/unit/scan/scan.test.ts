import t from 'tap';
import type { DaemonClient } from '../../../src/daemon/client.js';
import { codedError, codes } from '../../../src/errors.js';
import { formatScan } from '../../../src/scan/format.js';
import { runScan } from '../../../src/scan/scan.js';
import { defaultPolicy, policyFrom } from '../../helpers/policy.js';

const hostConfig = (hc: Record<string, unknown> = {}) => ({
  NetworkMode: 'default',
  LogConfig: { Type: 'json-file' },
  CgroupnsMode: 'host',
  Runtime: 'runc',
  ...hc,
});

/** A daemon made of canned GET answers; a missing path is a 404. */
function fakeClient(answers: Record<string, unknown>): DaemonClient & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    request: () => Promise.reject(new Error('only GET')),
    getJson: <T>(path: string) => {
      paths.push(path);
      if (path in answers) return Promise.resolve(answers[path] as T);
      return Promise.reject(codedError(codes.DAEMON_REQUEST, `GET ${path} on fake: 404 not found`));
    },
    close: () => undefined,
  };
}

const daemon = () =>
  fakeClient({
    '/info': { LoggingDriver: 'json-file', DefaultRuntime: 'runc', CgroupVersion: '1' },
    '/volumes': {
      Volumes: [
        { Name: 'plainvol', Driver: 'local', Options: null },
        { Name: 'hostroot', Driver: 'local', Options: { type: 'none', o: 'bind', device: '/' } },
      ],
    },
    '/networks': [
      {
        Name: 'bridge',
        Id: 'b0',
        Driver: 'bridge',
        Options: { 'com.docker.network.bridge.name': 'docker0', 'com.docker.network.bridge.default_bridge': 'true' },
      },
      { Name: 'host', Id: 'h0', Driver: 'host' },
      { Name: 'none', Id: 'n0', Driver: 'null' },
      { Name: 'appnet', Id: 'a0', Driver: 'bridge', Options: {}, IPAM: { Config: [{ Subnet: '172.18.0.0/16' }] } },
      { Name: 'lan', Id: 'l0', Driver: 'macvlan', Options: { parent: 'eth0' } },
    ],
    '/containers/json?all=1': [{ Id: 'aaa1' }, { Id: 'bbb2' }, { Id: 'ccc3' }, { Id: 'gone4' }, { Id: 'ddd5' }],
    '/containers/aaa1/json': {
      Name: '/web',
      State: { Status: 'running' },
      Config: { Image: 'nginx' },
      HostConfig: hostConfig(),
      Mounts: [],
      NetworkSettings: { Networks: { appnet: {} } },
    },
    '/containers/bbb2/json': {
      Name: '/root-shell',
      State: { Status: 'exited' },
      Config: { Image: 'busybox' },
      HostConfig: hostConfig({ Privileged: true, Binds: ['/:/host'] }),
      Mounts: [],
    },
    '/containers/ccc3/json': {
      Name: '/uses-vol',
      State: { Status: 'created' },
      Config: { Image: 'busybox' },
      HostConfig: hostConfig({ Binds: ['hostroot:/r'] }),
      Mounts: [{ Type: 'volume', Name: 'hostroot', Destination: '/r' }],
      NetworkSettings: { Networks: { lan: {} } },
    },
    '/containers/ddd5/json': { Name: '/odd', Config: {} },
  });

t.test('finds what the policy would refuse, and only that', async (t) => {
  const client = daemon();
  const report = await runScan({ dockerHost: 'unix:///fake.sock', policy: defaultPolicy(), client });
  t.same(report.checked, { containers: 5, volumes: 2, networks: 2 }, "the daemon's own networks are not judged");
  t.same(
    report.refused.map((o) => `${o.kind} ${o.name}: ${o.findings.map((f) => f.rule).join(',')}`),
    [
      'container root-shell: no-privileged,host-paths',
      'container uses-vol: host-paths,networks',
      'volume hostroot: host-paths',
      'network lan: networks',
    ],
  );
  t.match(
    report.unreadable,
    [{ kind: 'container', name: 'odd', message: /no HostConfig/ }],
    'an object that cannot be read is reported, not skipped',
  );
  t.notOk(
    client.paths.some((p) => !p.startsWith('/')),
    'only GETs, on the paths listed',
  );
  const text = formatScan(report);
  t.match(text, 'container "root-shell" (bbb2, exited, image busybox)');
  t.match(text, '  - no-privileged: --privileged (HostConfig.Privileged) gives the container full access to the host');
  t.match(text, '  fix: docker rm -f root-shell, then recreate it within the policy');
  t.match(text, '  - networks: network "lan" is a network the policy refuses (networks): see below');
  t.match(text, '  fix: move its data if needed, then docker volume rm hostroot');
  t.match(text, '  fix: disconnect its containers, then docker network rm lan');
  t.match(text, /Containers: the plugin judges creates, not existing containers/);
  t.match(text, 'could not judge container "odd"');
});

t.test('nothing found; scope and allow rules do not hide anything; operations rules are not object settings', async (t) => {
  const policy = policyFrom(`version: 1
groups: { admins: [root] }
rules:
  - { id: admins, kind: operations, effect: allow, operations: ["*"], groups: [admins] }
  - { id: np, kind: privileged, exceptGroups: [admins] }
  - { id: no-create, kind: operations, operations: [container.create] }
`);
  const report = await runScan({ dockerHost: 'unix:///fake.sock', policy, client: daemon() });
  t.same(
    report.refused.map((o) => o.name),
    ['root-shell'],
    'judged by the deny rule whatever its scope',
  );
  const none = await runScan({ dockerHost: 'unix:///fake.sock', policy: policyFrom('version: 1\n'), client: daemon() });
  t.same(none.refused, []);
  t.match(formatScan(none), 'nothing found');
});

t.test('a daemon that cannot be read is an error, not an empty report', async (t) => {
  await t.rejects(runScan({ dockerHost: 'unix:///fake.sock', policy: defaultPolicy(), client: fakeClient({}) }), {
    code: 'AUTHZ_DAEMON_REQUEST',
  });
  await t.rejects(runScan({ dockerHost: 'tcp://1.2.3.4:2375', policy: defaultPolicy() }), { code: 'AUTHZ_CONFIG_INVALID' });
});
