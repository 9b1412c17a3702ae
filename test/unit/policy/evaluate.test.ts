import t from 'tap';
import { evaluate } from '../../../src/policy/evaluate.js';
import { corpusRequests, envelope } from '../../helpers/corpus.js';
import { defaultPolicy, everyoneGreeted, greeted, nobodyGreeted, policyFrom, request } from '../../helpers/policy.js';

const policy = defaultPolicy();
const decide = (env: Record<string, unknown>, g = everyoneGreeted) => evaluate(policy, request(env), g);
const create = (hostConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  envelope('POST', '/v1.41/containers/create', { Image: 'busybox', HostConfig: hostConfig, ...extra });

t.test('the default policy refuses each dangerous create from the real corpus, naming rule and field', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['19', 'host-paths', /-v \/:\/host \(HostConfig\.Binds\[0\]\) mounts \/ from the host \(this policy allows no host paths\)/],
    ['20', 'host-paths', /--mount source=\/ \(HostConfig\.Mounts\[0\]\.Source\)/],
    ['21', 'no-privileged', /--privileged \(HostConfig\.Privileged\) gives the container full access to the host/],
    ['22', 'capabilities', /--cap-add CAP_SYS_ADMIN \(HostConfig\.CapAdd\[0\]\) .*\(allowed beyond the default set: none\)/],
    ['23', 'devices', /--device \/dev\/null \(HostConfig\.Devices\[0\]\)/],
    ['24', 'host-namespaces', /--pid host \(HostConfig\.PidMode\)/],
    ['25', 'host-namespaces', /--network host \(HostConfig\.NetworkMode\)/],
    ['26', 'host-namespaces', /--userns host \(HostConfig\.UsernsMode\)/],
    ['27', 'security-options', /--security-opt seccomp=unconfined \(HostConfig\.SecurityOpt\[0\]\) disables seccomp/],
  ];
  for (const [file, rule, message] of cases) {
    const d = decide(corpusRequests(file, 'containers/create')[0]!);
    t.match(d, { allow: false, rule, message }, `${file} → ${rule}`);
    t.match(d, { message: new RegExp(`^denied by rule ${rule}: `) });
  }
});

t.test('everyday work from the corpus is allowed once greeted', async (t) => {
  for (const file of [
    '01',
    '02',
    '04',
    '05',
    '06',
    '07',
    '08',
    '09',
    '10',
    '13',
    '14',
    '16',
    '18',
    '28',
    '29',
    '30',
    '31',
    '32',
    '33',
    '34',
    '35',
    '36',
    '37',
    '39',
    '41',
    '42',
    '43b',
    '44',
    '45',
    '46',
    '47',
    '48',
    '49',
    '52',
    '53',
    '54',
    '55',
    '56',
    '57',
    '58',
    '64',
  ]) {
    for (const env of corpusRequests(`${file}-`)) {
      const d = decide(env);
      t.ok(d.allow, `${file}: ${String(env.RequestMethod)} ${String(env.RequestUri)} ${d.allow ? '' : d.message}`);
    }
  }
});

t.test('the hello gate', async (t) => {
  const ps = envelope('GET', '/v1.41/containers/json');
  t.match(evaluate(policy, request(ps), nobodyGreeted), {
    allow: false,
    rule: 'hello',
    message: 'You must say hello first: run "docker run hello-world"',
  });
  t.ok(evaluate(policy, request(ps), greeted('@anonymous')).allow);
  t.notOk(
    evaluate(policy, request({ ...ps, User: 'bob' }), greeted('@anonymous')).allow,
    'per identity: alice greeting does not open the gate for bob',
  );

  const steps = [
    envelope('HEAD', '/_ping'),
    envelope('GET', '/_ping'),
    envelope('GET', '/v1.41/version'),
    envelope('POST', '/v1.41/images/create?fromImage=hello-world&tag=latest'),
    envelope('POST', '/v1.41/images/create?fromImage=docker.io%2Flibrary%2Fhello-world&tag=latest'),
    envelope('POST', '/v1.41/containers/create', { Image: 'hello-world', HostConfig: {} }),
    envelope('POST', '/v1.41/containers/create', { Image: 'library/hello-world:latest' }),
    envelope('POST', '/v1.41/containers/create', { Image: 'docker.io/library/hello-world' }),
  ];
  for (const env of steps) t.ok(evaluate(policy, request(env), nobodyGreeted).allow, `${String(env.RequestUri)} is part of saying hello`);

  const notSteps = [
    envelope('POST', '/v1.41/images/create?fromImage=busybox'),
    envelope('POST', '/v1.41/images/create?fromSrc=-&repo=hello-world'),
    envelope('POST', '/v1.41/containers/create', { Image: 'hello-world:other' }),
    envelope('POST', '/v1.41/containers/create', { Image: 'evil/hello-world' }),
    envelope('POST', '/v1.41/containers/x/start', undefined, { 'Content-Length': '0' }),
  ];
  for (const env of notSteps)
    t.match(evaluate(policy, request(env), nobodyGreeted), { allow: false, rule: 'hello' }, String(env.RequestUri));

  const privilegedHello = envelope('POST', '/v1.41/containers/create', { Image: 'hello-world', HostConfig: { Privileged: true } });
  t.match(
    evaluate(policy, request(privilegedHello), nobodyGreeted),
    { allow: false, rule: 'no-privileged' },
    'the greeting is not a way around the rules',
  );

  const global = policyFrom('version: 1\nhello: { scope: global }\n');
  t.ok(evaluate(global, request({ ...ps, User: 'bob' }), greeted('alice')).allow, 'global scope: one hello opens the gate');
  const off = policyFrom('version: 1\nhello: { enabled: false }\n');
  t.ok(evaluate(off, request(ps), nobodyGreeted).allow);
  const custom = policyFrom('version: 1\nhello: { image: "registry.local/greet:v1" }\n');
  t.match(evaluate(custom, request(ps), nobodyGreeted), { message: 'You must say hello first: run "docker run registry.local/greet:v1"' });
});

t.test('host paths: normalised, allow-listed by directory, never by prefix', async (t) => {
  const p = policyFrom(
    'version: 1\nhello: { enabled: false }\napi: { minVersion: "1.12" }\nrules:\n  - { id: hp, kind: host-mounts, allowedPaths: [/srv/data, /run/user/] }\n',
  );
  const bind = (src: string) => evaluate(p, request(create({ Binds: [`${src}:/mnt`] })), everyoneGreeted).allow;
  t.ok(bind('/srv/data'));
  t.ok(bind('/srv/data/x/'));
  t.ok(bind('/var/run/user/1000'), '/var/run is /run');
  t.notOk(bind('/srv/data2'), 'a sibling with a common prefix');
  t.notOk(bind('/srv'), 'the parent');
  t.notOk(bind('/srv/data/../../etc'));
  t.notOk(bind('//etc'));
  t.notOk(bind('/var/run/docker.sock'), 'the docker socket itself');
  t.ok(
    evaluate(p, request(create({ Binds: ['named-volume:/data', '/anonymous'] })), everyoneGreeted).allow,
    'named and anonymous volumes are not host paths',
  );
  const lower = evaluate(
    p,
    request(envelope('POST', '/v1.41/containers/create', { image: 'x', hostconfig: { binds: ['/:/h'] } })),
    everyoneGreeted,
  );
  t.match(lower, { allow: false, message: /HostConfig\.Binds\[0\]/ }, 'lower-case keys are what the daemon reads');
  const legacy = evaluate(p, request(envelope('POST', '/v1.19/containers/create', { Image: 'x', Binds: ['/:/h'] })), everyoneGreeted);
  t.match(legacy, { allow: false, message: /: -v \/:\/h \(Binds\[0\]\)/ }, 'top-level HostConfig fields (old API)');
  const volMount = create({
    Mounts: [
      {
        Type: 'volume',
        Target: '/h',
        VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } },
      },
    ],
  });
  t.match(evaluate(p, request(volMount), everyoneGreeted), {
    allow: false,
    message: /--mount volume-opt=device=\/ \(HostConfig\.Mounts\[0\]\.VolumeOptions\.DriverConfig\.Options\.device\)/,
  });
  const volCreate = envelope('POST', '/v1.41/volumes/create', {
    Name: 'v',
    Driver: 'local',
    DriverOpts: { type: 'none', o: 'bind', device: '/etc' },
  });
  t.match(evaluate(p, request(volCreate), everyoneGreeted), {
    allow: false,
    message: /--opt device=\/etc \(DriverOpts\.device\) mounts \/etc from the host/,
  });
  const tmpfs = envelope('POST', '/v1.41/volumes/create', { Name: 'v', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' } });
  t.ok(evaluate(p, request(tmpfs), everyoneGreeted).allow, 'tmpfs volumes are not host paths');
  const start = envelope('POST', '/v1.23/containers/x/start', { Binds: ['/:/h'] });
  t.notOk(evaluate(p, request(start), everyoneGreeted).allow, 'HostConfig sent with start (API < 1.24)');
});

t.test('capabilities, however spelled', async (t) => {
  for (const cap of ['SYS_ADMIN', 'CAP_SYS_ADMIN', 'cap_sys_admin', 'sys_admin', 'ALL', 'all', ' SYS_ADMIN', 'ſys_admin']) {
    t.match(decide(create({ CapAdd: [cap] })), { allow: false, rule: 'capabilities' }, JSON.stringify(cap));
  }
  t.ok(decide(create({ CapAdd: ['NET_BIND_SERVICE', 'CAP_CHOWN'], CapDrop: ['ALL'] })).allow, 'default capabilities may be re-added');
  t.match(decide(create({ Capabilities: ['CAP_SYS_ADMIN'] })), { allow: false, message: /HostConfig\.Capabilities\[0\]/ });
  const allowNetAdmin = policyFrom(
    'version: 1\nhello: { enabled: false }\nrules:\n  - { id: c, kind: capabilities, allowed: [CAP_NET_ADMIN] }\n',
  );
  t.ok(evaluate(allowNetAdmin, request(create({ CapAdd: ['net_admin'] })), everyoneGreeted).allow);
});

t.test('privileged, devices, namespaces and security options', async (t) => {
  const denied: [Record<string, unknown>, string][] = [
    [{ Privileged: true }, 'no-privileged'],
    [{ DeviceCgroupRules: ['a *:* rwm'] }, 'devices'],
    [{ DeviceRequests: [{ Driver: 'nvidia', Count: -1 }] }, 'devices'],
    [{ IpcMode: 'host' }, 'host-namespaces'],
    [{ UTSMode: 'host' }, 'host-namespaces'],
    [{ CgroupnsMode: 'host' }, 'host-namespaces'],
    [{ NetworkMode: 'HOST' }, 'host-namespaces'],
    [{ SecurityOpt: ['apparmor=unconfined'] }, 'security-options'],
    [{ SecurityOpt: ['seccomp:unconfined'] }, 'security-options'],
    [{ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }, 'security-options'],
    [{ SecurityOpt: ['label=disable'] }, 'security-options'],
    [{ SecurityOpt: ['label:type:spc_t'] }, 'security-options'],
    [{ SecurityOpt: ['disable'] }, 'security-options'],
    [{ SecurityOpt: ['writable-cgroups=true'] }, 'security-options'],
    [{ SecurityOpt: ['apparmor=some-loaded-profile'] }, 'security-options'],
    [{ MaskedPaths: [] }, 'security-options'],
  ];
  for (const [hc, rule] of denied) t.match(decide(create(hc)), { allow: false, rule }, JSON.stringify(hc));
  t.ok(decide(create({ SecurityOpt: ['no-new-privileges', 'apparmor=docker-default'], NetworkMode: 'none', IpcMode: 'private' })).allow);
  const exec = envelope('POST', '/v1.41/containers/c/exec', { Cmd: ['sh'], Privileged: true });
  t.match(decide(exec), { allow: false, rule: 'no-privileged', message: /: docker exec --privileged \(Privileged\)/ });
  const build = envelope('POST', '/v1.41/build?networkmode=host&t=x');
  t.match(decide(build), { allow: false, rule: 'host-namespaces', message: /docker build --network host \(networkmode\)/ });
});

t.test('operations rules, scopes and first-match order', async (t) => {
  const p = policyFrom(`version: 1
hello: { enabled: false }
groups: { admins: [root-admin] }
rules:
  - { id: admins, kind: operations, effect: allow, operations: ["*"], groups: [admins] }
  - { id: ci-readonly, kind: operations, operations: ["container.create", "container.exec.*"], users: [ci] }
  - { id: no-priv, kind: privileged, exceptUsers: [trusted] }
`);
  const priv = create({ Privileged: true });
  t.match(evaluate(p, request(priv), everyoneGreeted), { allow: false, rule: 'no-priv' });
  t.match(evaluate(p, request({ ...priv, User: 'root-admin' }), everyoneGreeted), { allow: true, rule: 'admins' });
  t.ok(evaluate(p, request({ ...priv, User: 'trusted' }), everyoneGreeted).allow);
  t.match(evaluate(p, request({ ...create({}), User: 'ci' }), everyoneGreeted), {
    allow: false,
    rule: 'ci-readonly',
    message: 'denied by rule ci-readonly: operation container.create is not allowed',
  });
  t.ok(evaluate(p, request({ ...envelope('GET', '/v1.41/containers/json'), User: 'ci' }), everyoneGreeted).allow);
});

t.test('old API versions are refused by default; the legacy shapes are still judged when allowed', async (t) => {
  t.match(decide(envelope('POST', '/v1.23/containers/x/start', { Privileged: true })), {
    allow: false,
    rule: 'api-version',
    message: 'denied by rule api-version: API version 1.23 is older than 1.24, the oldest this policy allows',
  });
  t.ok(decide(envelope('GET', '/v1.24/info')).allow);
  t.ok(decide(envelope('GET', '/info')).allow, "unversioned requests get the daemon's own version");
  const old = policyFrom('version: 1\nhello: { enabled: false }\napi: { minVersion: "1.12" }\nrules:\n  - { id: np, kind: privileged }\n');
  t.match(evaluate(old, request(envelope('POST', '/v1.23/containers/x/start', { Privileged: true })), everyoneGreeted), {
    allow: false,
    rule: 'np',
  });
});

t.test('nothing allows disabling or replacing this plugin through the API', async (t) => {
  const named = policyFrom(
    'version: 1\nhello: { enabled: false }\nrules:\n  - { id: all, kind: operations, effect: allow, operations: ["*"] }\n',
    'ci-gate',
  );
  for (const [m, u] of [
    ['POST', '/v1.41/plugins/ci-gate/disable'],
    ['DELETE', '/v1.41/plugins/ci-gate:latest'],
    ['POST', '/v1.41/plugins/docker.io/library/ci-gate/set'],
    ['POST', '/v1.41/plugins/pull?remote=evil/authz&name=ci-gate'],
    ['POST', '/v1.41/plugins/pull?remote=ci-gate'],
    ['POST', '/v1.41/plugins/create?name=ci-gate'],
  ] as const) {
    t.match(
      evaluate(named, request(envelope(m, u, undefined, { 'Content-Length': '0' })), everyoneGreeted),
      { allow: false, rule: 'self-protection' },
      u,
    );
  }
  t.match(
    evaluate(named, request(envelope('POST', '/v1.41/plugins/other/disable', undefined, { 'Content-Length': '0' })), everyoneGreeted),
    { allow: true, rule: 'all' },
  );
});

t.test('host settings: cgroup parent, sysctls, runtimes, log drivers, remote fetches', async (t) => {
  const denied: [Record<string, unknown>, RegExp][] = [
    [{ CgroupParent: '/' }, /--cgroup-parent \/ \(HostConfig\.CgroupParent\)/],
    [
      { Sysctls: { 'kernel.shm_rmid_forced': '1' } },
      /--sysctl kernel\.shm_rmid_forced \(HostConfig\.Sysctls\["kernel\.shm_rmid_forced"\]\) sets a kernel parameter that is not allowed \(allowed sysctls: none\)/,
    ],
    [{ Runtime: 'nvidia' }, /--runtime nvidia \(HostConfig\.Runtime\) is not an allowed runtime \(allowed runtimes: runc\)/],
    [
      { LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'tcp://evil:514' } } },
      /--log-driver syslog \(HostConfig\.LogConfig\.Type\) sends logs off this host/,
    ],
  ];
  for (const [hc, message] of denied) t.match(decide(create(hc)), { allow: false, rule: 'host-settings', message }, JSON.stringify(hc));
  t.ok(decide(create({ LogConfig: { Type: 'json-file', Config: {} }, Runtime: 'runc', CgroupParent: '' })).allow);
  t.match(decide(envelope('POST', '/v1.41/images/create?fromSrc=http%3A%2F%2F169.254.169.254%2Flatest&repo=x')), {
    allow: false,
    rule: 'host-settings',
    message: /docker import http:\/\/169\.254\.169\.254\/latest \(fromSrc\)/,
  });
  t.ok(decide(envelope('POST', '/v1.41/images/create?fromSrc=-&repo=x')).allow, 'import from the request body');
  t.match(decide(envelope('POST', '/v1.41/build?remote=https%3A%2F%2Fexample.com%2Fctx.tar')), { allow: false, rule: 'host-settings' });
  t.match(decide(envelope('POST', '/v1.41/build?cgroupparent=%2F')), { allow: false, rule: 'host-settings', message: /cgroupparent/ });
  const sysctlOk = policyFrom(
    'version: 1\nhello: { enabled: false }\nrules:\n  - { id: h, kind: host-settings, allowedSysctls: ["net.ipv4.*"] }\n',
  );
  t.ok(evaluate(sysctlOk, request(create({ Sysctls: { 'net.ipv4.ip_forward': '1' } })), everyoneGreeted).allow);
});

t.test('swarm services are judged like containers when a policy allows them', async (t) => {
  const p = policyFrom(`version: 1
hello: { enabled: false }
rules:
  - { id: np, kind: privileged }
  - { id: hp, kind: host-mounts }
  - { id: caps, kind: capabilities }
  - { id: ns, kind: host-namespaces }
  - { id: sec, kind: security-options }
`);
  const service = (containerSpec: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    envelope('POST', '/v1.41/services/create', {
      Name: 's',
      TaskTemplate: { ContainerSpec: { Image: 'busybox', ...containerSpec }, ...extra },
    });
  const cases: [Record<string, unknown>, Record<string, unknown>, string, RegExp][] = [
    [
      { Mounts: [{ Type: 'bind', Source: '/', Target: '/h' }] },
      {},
      'hp',
      /--mount source=\/ \(TaskTemplate\.ContainerSpec\.Mounts\[0\]\.Source\)/,
    ],
    [{ CapabilityAdd: ['CAP_SYS_ADMIN'] }, {}, 'caps', /--cap-add CAP_SYS_ADMIN \(TaskTemplate\.ContainerSpec\.CapAdd\[0\]\)/],
    [{ Privileges: { Seccomp: { Mode: 'unconfined' } } }, {}, 'sec', /--security-opt seccomp=unconfined /],
    [{ Privileges: { AppArmor: { Mode: 'disabled' } } }, {}, 'sec', /apparmor=unconfined/],
    [{ Privileges: { SELinuxContext: { Disable: true } } }, {}, 'sec', /label=disable/],
    [{}, { Networks: [{ Target: 'host' }] }, 'ns', /--network host \(TaskTemplate\.ContainerSpec\.NetworkMode\)/],
  ];
  for (const [spec, extra, rule, message] of cases) {
    t.match(evaluate(p, request(service(spec, extra)), everyoneGreeted), { allow: false, rule, message }, JSON.stringify({ spec, extra }));
  }
  t.ok(evaluate(p, request(service({ Mounts: [{ Type: 'volume', Source: 'data', Target: '/d' }] })), everyoneGreeted).allow);
  const update = envelope('POST', '/v1.41/services/abc/update?version=3', {
    TaskTemplate: { ContainerSpec: { Image: 'x', Mounts: [{ Type: 'bind', Source: '/etc', Target: '/e' }] } },
  });
  t.match(evaluate(p, request(update), everyoneGreeted), { allow: false, rule: 'hp' });
  const pluginService = envelope('POST', '/v1.41/services/create', { TaskTemplate: { Runtime: 'plugin', PluginSpec: { Remote: 'x' } } });
  t.throws(() => request(pluginService), /not judged/);
});

t.test('local volumes that mount host filesystems are refused, whatever the device', async (t) => {
  for (const opts of [
    { type: 'proc', device: 'proc' },
    { type: 'sysfs', device: 'sysfs' },
    { type: 'cgroup', device: 'cgroup' },
    { type: 'overlay', device: 'overlay', o: 'lowerdir=/etc:/usr' },
    { type: 'ext4', device: 'dev/sda1' },
    { type: 'ext4', device: '/dev/sda1' },
  ]) {
    t.match(
      decide(envelope('POST', '/v1.41/volumes/create', { Name: 'v1', Driver: 'local', DriverOpts: opts })),
      { allow: false, rule: 'host-paths' },
      JSON.stringify(opts),
    );
    const inline = create({
      Mounts: [{ Type: 'volume', Target: '/m', VolumeOptions: { DriverConfig: { Name: 'local', Options: opts } } }],
    });
    t.match(decide(inline), { allow: false, rule: 'host-paths' }, `inline ${JSON.stringify(opts)}`);
  }
  t.match(decide(envelope('POST', '/v1.41/volumes/create', { Name: 'p', DriverOpts: { type: 'proc', device: 'proc' } })), {
    message:
      'denied by rule host-paths: --opt type=proc (DriverOpts.type) makes the local volume driver mount a host filesystem (the types that are not from the host: tmpfs, nfs, nfs4, cifs, smb3)',
  });
  for (const opts of [{ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' }, { type: 'nfs', device: ':/export', o: 'addr=10.0.0.1' }, {}]) {
    t.ok(decide(envelope('POST', '/v1.41/volumes/create', { Name: 'ok1', DriverOpts: opts })).allow, JSON.stringify(opts));
  }
});

t.test('null elements are the zero value, as in Go, and are judged', async (t) => {
  t.match(decide(create({ Devices: [null, { PathOnHost: '/dev/sda' }] })), { allow: false, rule: 'devices' });
  t.match(decide(create({ DeviceCgroupRules: [null, 'a *:* rwm'] })), { allow: false, rule: 'devices' });
  t.match(decide(create({ CapAdd: [null, 'SYS_ADMIN'] })), { allow: false, rule: 'capabilities' });
  t.doesNotThrow(() => decide(create({ Binds: [null], Mounts: [null], SecurityOpt: [null] })));
  t.match(decide(create({ CapAdd: 'SYS_ADMIN' })), { allow: false, rule: 'capabilities' }, 'CapAdd may be one bare string (StrSlice)');
});

t.test('shared containers (opt-in)', async (t) => {
  const p = policyFrom('version: 1\nhello: { enabled: false }\nrules:\n  - { id: sc, kind: shared-containers }\n');
  for (const hc of [
    { VolumesFrom: ['old'] },
    { PidMode: 'container:old' },
    { NetworkMode: 'container:old' },
    { IpcMode: 'container:old' },
  ]) {
    t.match(evaluate(p, request(create(hc)), everyoneGreeted), { allow: false, rule: 'sc' }, JSON.stringify(hc));
  }
  t.ok(decide(create({ VolumesFrom: ['old'] })).allow, 'not part of the default policy');
});

t.test('the default policy keeps cluster and plugin administration closed', async (t) => {
  for (const [m, u] of [
    ['POST', '/v1.41/plugins/sshfs/disable'],
    ['POST', '/v1.41/plugins/pull?remote=x'],
    ['POST', '/v1.41/swarm/init'],
    ['GET', '/v1.41/swarm/unlockkey'],
    ['POST', '/v1.41/swarm/leave?force=1'],
    ['DELETE', '/v1.41/nodes/n1?force=1'],
    ['GET', '/v1.41/secrets'],
  ] as const) {
    const env = envelope(m, u, m === 'POST' && u.includes('swarm') ? {} : undefined, { 'Content-Length': '0' });
    t.match(decide(env), { allow: false, rule: 'cluster-and-plugins' }, u);
  }
});

t.test('denials of the side doors name the rule, the CLI flag, the API field and what is allowed', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [
      envelope('POST', '/v1.41/networks/create', { Name: 'n', Driver: 'macvlan', Options: { parent: 'eth0' } }),
      'denied by rule networks: --driver (Driver) "macvlan" attaches containers directly to a host interface, on the host\'s own network (allowed drivers: bridge)',
    ],
    [
      envelope('POST', '/v1.41/networks/create', { Name: 'n', Options: { parent: 'eth0' } }),
      'denied by rule networks: --opt parent (Options["parent"]) names a host interface to attach the network\'s containers to (allowed options: com.docker.network.driver.mtu, com.docker.network.bridge.enable_icc, com.docker.network.bridge.enable_ip_masquerade, com.docker.network.container_iface_prefix)',
    ],
    [
      envelope('POST', '/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fx&tag=latest', undefined, { 'Content-Length': '0' }),
      'denied by rule registries: docker pull (fromImage) "127.0.0.1:5000/x" goes to registry "127.0.0.1:5000", a loopback address: the daemon would talk to services on this host (allowed registries: any not on this host)',
    ],
    [
      envelope('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { OomScoreAdj: -1000 } }),
      "denied by rule host-resources: --oom-score-adj (HostConfig.OomScoreAdj) -1000 makes the host's own processes die first when memory runs out (minimum 0)",
    ],
    [
      envelope('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { SecurityOpt: ['no-new-privileges:f'] } }),
      'denied by rule security-options: --security-opt no-new-privileges:f (HostConfig.SecurityOpt[0]) turns off no-new-privileges (lets processes gain privileges)',
    ],
  ];
  for (const [env, message] of cases) t.match(decide(env), { allow: false, message }, message.slice(0, 60));
});

t.test('denials of container settings name the docker CLI flag and value, then the API field, then what is allowed', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { CapAdd: ['SYS_ADMIN'] },
      "--cap-add SYS_ADMIN (HostConfig.CapAdd[0]) adds a capability beyond Docker's default set (allowed beyond the default set: none)",
    ],
    [{ Capabilities: ['CAP_SYS_ADMIN'] }, 'CAP_SYS_ADMIN in the capability list (HostConfig.Capabilities[0]) adds a capability'],
    [{ Binds: ['/etc:/e:ro'] }, '-v /etc:/e:ro (HostConfig.Binds[0]) mounts /etc from the host (this policy allows no host paths)'],
    [{ Binds: ['/my dir:/d'] }, '-v "/my dir:/d" (HostConfig.Binds[0])'],
    [{ Devices: [{ PathOnHost: '/dev/kvm' }] }, '--device /dev/kvm (HostConfig.Devices[0]) exposes a host device'],
    [{ DeviceCgroupRules: ['c 1:3 rwm'] }, '--device-cgroup-rule "c 1:3 rwm" (HostConfig.DeviceCgroupRules[0])'],
    [
      { DeviceRequests: [{ Driver: 'nvidia', Count: -1 }] },
      '--gpus (HostConfig.DeviceRequests[0]) requests host devices (driver "nvidia")',
    ],
    [{ CgroupnsMode: 'host' }, "--cgroupns host (HostConfig.CgroupnsMode) shares the host's cgroup namespace"],
    [{ SecurityOpt: ['label=disable'] }, '--security-opt label=disable (HostConfig.SecurityOpt[0]) disables SELinux labelling'],
    [{ MaskedPaths: [] }, '--security-opt systempaths=unconfined (HostConfig.MaskedPaths) replaces the default protected /proc paths'],
    [{ Runtime: 'kata' }, '--runtime kata (HostConfig.Runtime) is not an allowed runtime (allowed runtimes: runc)'],
    [
      { Sysctls: { 'kernel.msgmax': '1' } },
      '--sysctl kernel.msgmax (HostConfig.Sysctls["kernel.msgmax"]) sets a kernel parameter that is not allowed (allowed sysctls: none)',
    ],
  ];
  for (const [hc, detail] of cases) {
    const d = decide(create(hc));
    t.match(d, { allow: false }, JSON.stringify(hc));
    if (!d.allow)
      t.equal(d.message.slice(d.message.indexOf(': ') + 2, d.message.indexOf(': ') + 2 + detail.length), detail, JSON.stringify(hc));
  }
  const p = policyFrom(`version: 1
hello: { enabled: false }
rules:
  - { id: hp, kind: host-mounts, allowedPaths: [/srv/shared, /home/ci] }
  - { id: caps, kind: capabilities, allowed: [NET_ADMIN] }
  - { id: sc, kind: shared-containers }
`);
  t.match(evaluate(p, request(create({ Binds: ['/srv:/s'] })), everyoneGreeted), {
    message:
      'denied by rule hp: -v /srv:/s (HostConfig.Binds[0]) mounts /srv from the host, outside the allowed host paths (/srv/shared, /home/ci)',
  });
  t.match(evaluate(p, request(create({ CapAdd: ['SYS_PTRACE'] })), everyoneGreeted), {
    message: /\(allowed beyond the default set: NET_ADMIN\)$/,
  });
  t.match(evaluate(p, request(create({ VolumesFrom: ['db'] })), everyoneGreeted), {
    message: "denied by rule sc: --volumes-from db (HostConfig.VolumesFrom[0]) mounts another container's volumes",
  });
  t.match(evaluate(p, request(create({ IpcMode: 'container:db' })), everyoneGreeted), {
    message: "denied by rule sc: --ipc container:db (HostConfig.IpcMode) joins another container's namespace",
  });
});
