import t from 'tap';
import { corpusRequests, envelope } from '../../../helpers/corpus.js';
import { defaultPolicy, policyFrom, request } from '../../../helpers/policy.js';

const checkOf = (rule: string) => policyFrom(`version: 1\nhello: { enabled: false }\nrules:\n  - ${rule}\n`).rules[0]!.check;
const defaults = defaultPolicy().rules.find((r) => r.id === 'networks')!.check;
const create = (body: Record<string, unknown>) => request(envelope('POST', '/v1.41/networks/create', { Name: 'n1', ...body }));
const connect = (body: Record<string, unknown>) => request(envelope('POST', '/v1.41/networks/n1/connect', { Container: 'c1', ...body }));

t.test('plain and compose-style networks are allowed by the default policy', async (t) => {
  t.equal(defaults(request(corpusRequests('32', 'networks/create')[0]!)), undefined, 'docker network create NAME (captured)');
  // What docker compose v2 sends for a project's default network and for a network with options.
  const compose = {
    Name: 'proj_default',
    Driver: '',
    Internal: false,
    Attachable: false,
    EnableIPv6: false,
    Labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': 'proj', 'com.docker.compose.version': '2.29.1' },
    CheckDuplicate: true,
  };
  t.equal(defaults(create(compose)), undefined);
  t.equal(
    defaults(create({ ...compose, Driver: 'bridge', Internal: true, Options: { 'com.docker.network.driver.mtu': '1400' } })),
    undefined,
  );
  t.equal(defaults(create({ Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [] }, ConfigFrom: null })), undefined);
  t.equal(defaults(connect({})), undefined, 'docker network connect');
  t.equal(defaults(connect({ EndpointConfig: { Aliases: ['web'] } })), undefined);
  t.equal(defaults(request(envelope('POST', '/v1.41/networks/n1/disconnect', { Container: 'c1', Force: false }))), undefined);
});

t.test('drivers that reach the host, or load plugins, are refused', async (t) => {
  for (const driver of ['macvlan', 'ipvlan', 'host', 'overlay', 'null', 'Bridge', 'BRIDGE', ' bridge', 'weird', 'vieux/sshfs']) {
    t.match(defaults(create({ Driver: driver })), { field: '--driver (Driver)', reason: /allowed drivers: bridge/ }, driver);
  }
  t.match(defaults(create({ Driver: 'macvlan', Options: { parent: 'eth0' } })), {
    reason: /"macvlan" attaches containers directly to a host interface/,
  });
  t.match(defaults(create({ driver: 'macvlan' })), { field: '--driver (Driver)' }, 'keys match case-insensitively, as in Go');
  t.equal(
    checkOf('{ id: n, kind: networks, allowedDrivers: [bridge, macvlan], allowedOptions: [parent] }')(
      create({ Driver: 'macvlan', Options: { parent: 'eth0' } }),
    ),
    undefined,
  );
});

t.test('driver options are refused unless listed, by exact name', async (t) => {
  const cases: [string, RegExp][] = [
    ['parent', /names a host interface/],
    ['com.docker.network.bridge.name', /names the host bridge interface/],
    ['com.docker.network.bridge.host_binding_ipv4', /binds published ports/],
    ['com.docker.network.host_ipv4', /source address/],
    ['com.docker.network.bridge.default_bridge', /default bridge/],
    ['com.docker.network.bridge.trusted_host_interfaces', /host interfaces/],
    ['COM.DOCKER.NETWORK.DRIVER.MTU', /is not an allowed driver option/],
    ['something.else', /is not an allowed driver option/],
  ];
  for (const [key, reason] of cases) {
    t.match(defaults(create({ Options: { [key]: 'x' } })), { field: `--opt ${key} (Options[${JSON.stringify(key)}])`, reason }, key);
  }
  t.match(defaults(create({ Options: { parent: 'eth0' } })), { reason: /allowed options: com\.docker\.network\.driver\.mtu, / });
  t.equal(
    defaults(
      create({ Options: { 'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.bridge.enable_ip_masquerade': 'true' } }),
    ),
    undefined,
  );
  t.match(defaults(create({ IPAM: { Driver: 'someplugin' } })), { field: '--ipam-driver (IPAM.Driver)' });
  t.equal(defaults(create({ IPAM: { Driver: '' } })), undefined);
});

t.test('scope, ingress and config-from', async (t) => {
  t.match(defaults(create({ Scope: 'swarm' })), { field: '--scope (Scope)' });
  t.match(defaults(create({ Scope: 'LOCAL' })), { field: '--scope (Scope)' }, 'exact, as the daemon compares it');
  t.equal(defaults(create({ Scope: 'local' })), undefined);
  t.match(defaults(create({ Ingress: true })), { field: '--ingress (Ingress)' });
  t.match(defaults(create({ ConfigFrom: { Network: 'cfg' } })), { field: '--config-from (ConfigFrom.Network)', reason: /cannot see/ });
  t.equal(checkOf('{ id: n, kind: networks, allowConfigFrom: true }')(create({ ConfigFrom: { Network: 'cfg' } })), undefined);
  t.match(
    defaults(create({ ConfigOnly: true, Options: { parent: 'eth0' } })),
    { field: '--opt parent (Options["parent"])' },
    'a config-only network is judged like any other',
  );
  t.equal(defaults(create({ Internal: true, Attachable: true, EnableIPv6: true })), undefined);
});

t.test('chosen subnets and addresses must lie inside the allowed pools', async (t) => {
  const cfg = (c: Record<string, unknown>) => create({ IPAM: { Config: [c] } });
  t.match(defaults(cfg({ Subnet: '198.18.7.0/24' })), {
    field: '--subnet (IPAM.Config[0].Subnet)',
    reason: /"198\.18\.7\.0\/24" is outside the allowed address pools \(no address pools are allowed/,
  });
  const pooled = checkOf('{ id: n, kind: networks, allowedPools: [10.10.0.0/16, "fd00:10::/48"] }');
  t.equal(
    pooled(cfg({ Subnet: '10.10.5.0/24', IPRange: '10.10.5.128/25', Gateway: '10.10.5.1', AuxiliaryAddresses: { a: '10.10.5.2' } })),
    undefined,
  );
  t.equal(pooled(cfg({ Subnet: '10.10.5.9/24' })), undefined, 'host bits do not change the block');
  t.equal(pooled(cfg({ Subnet: 'fd00:10:0:1::/64', Gateway: 'fd00:10:0:1::1' })), undefined);
  const refused: [Record<string, unknown>, string][] = [
    [{ Subnet: '10.0.0.0/8' }, '--subnet (IPAM.Config[0].Subnet)'],
    [{ Subnet: '10.11.0.0/24' }, '--subnet (IPAM.Config[0].Subnet)'],
    [{ Subnet: '10.10.5.0/24', IPRange: '10.11.0.0/24' }, '--ip-range (IPAM.Config[0].IPRange)'],
    [{ Subnet: '10.10.5.0/24', Gateway: '192.168.1.1' }, '--gateway (IPAM.Config[0].Gateway)'],
    [{ Subnet: '10.10.5.0/24', AuxiliaryAddresses: { host: '10.11.0.1' } }, '--aux-address (IPAM.Config[0].AuxiliaryAddresses["host"])'],
    [{ Gateway: '192.168.1.1' }, '--gateway (IPAM.Config[0].Gateway)'],
    [{ Subnet: '::ffff:10.10.0.0/112' }, '--subnet (IPAM.Config[0].Subnet)'],
    [{ Subnet: '010.10.0.0/16' }, '--subnet (IPAM.Config[0].Subnet)'],
    [{ Subnet: '10.10.0.0' }, '--subnet (IPAM.Config[0].Subnet)'],
    [{ Subnet: 'fd00:11::/64' }, '--subnet (IPAM.Config[0].Subnet)'],
  ];
  for (const [c, field] of refused) t.match(pooled(cfg(c)), { field }, JSON.stringify(c));
  t.match(pooled(cfg({ Subnet: '::ffff:10.10.0.0/112' })), { reason: /IPv4-mapped/ });
  t.match(pooled(cfg({ Subnet: 'nonsense' })), { reason: /not an address block/ });
  t.match(pooled(create({ IPAM: { Config: [{ Subnet: '10.10.1.0/24' }, { Subnet: '10.20.0.0/24' }] } })), {
    field: '--subnet (IPAM.Config[1].Subnet)',
  });
});

t.test('container addresses on connect and create are judged by the same pools', async (t) => {
  const pooled = checkOf('{ id: n, kind: networks, allowedPools: [10.10.0.0/16] }');
  t.equal(pooled(connect({ EndpointConfig: { IPAMConfig: { IPv4Address: '10.10.0.5' } } })), undefined);
  t.match(pooled(connect({ EndpointConfig: { IPAMConfig: { IPv4Address: '198.18.0.5' } } })), {
    field: '--ip (EndpointConfig.IPAMConfig.IPv4Address)',
  });
  t.match(pooled(connect({ EndpointConfig: { IPAMConfig: { IPv6Address: 'fd00::5' } } })), {
    field: '--ip6 (EndpointConfig.IPAMConfig.IPv6Address)',
  });
  t.match(pooled(connect({ EndpointConfig: { IPAMConfig: { LinkLocalIPs: ['10.10.0.9', '169.254.0.9'] } } })), {
    field: '--link-local-ip (EndpointConfig.IPAMConfig.LinkLocalIPs[1])',
  });
  t.match(pooled(connect({ EndpointConfig: { DriverOpts: { parent: 'eth0' } } })), {
    field: '--driver-opt parent (EndpointConfig.DriverOpts["parent"])',
  });
  const containerCreate = (endpoints: Record<string, unknown>) =>
    request(envelope('POST', '/v1.41/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: endpoints } }));
  t.match(pooled(containerCreate({ n1: { IPAMConfig: { IPv4Address: '198.18.0.5' } } })), {
    field: '--ip (NetworkingConfig.EndpointsConfig["n1"].IPAMConfig.IPv4Address)',
  });
  t.equal(pooled(containerCreate({ n1: { IPAMConfig: { IPv4Address: '10.10.3.3' } }, n2: null })), undefined);
  t.equal(defaults(containerCreate({ n1: { Aliases: ['x'], IPAMConfig: null } })), undefined);
});
