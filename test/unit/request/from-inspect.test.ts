import t from 'tap';
import { containerAsCreate, networkAsCreate, volumeAsCreate } from '../../../src/request/from-inspect.js';
import { defaultPolicy } from '../../helpers/policy.js';
import { findings, settingRules } from '../../../src/policy/settings.js';

// The HostConfig dockerd 20.10 (cgroup v1) stores for `docker create busybox`, as `docker inspect` shows it.
const PLAIN_HOST_CONFIG = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: 'host',
  Dns: [],
  DnsOptions: [],
  DnsSearch: [],
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 67108864,
  Runtime: 'runc',
  ConsoleSize: [0, 0],
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: [],
  BlkioDeviceReadBps: [],
  BlkioDeviceWriteBps: [],
  BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [],
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: [],
  DeviceCgroupRules: null,
  DeviceRequests: null,
  KernelMemory: 0,
  KernelMemoryTCP: 0,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: [],
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  MaskedPaths: [
    '/proc/asound',
    '/proc/acpi',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/sys/firmware',
  ],
  ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
};

const inspect = (hc: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  Id: 'c0ffee',
  Name: '/old',
  Config: { Image: 'busybox' },
  HostConfig: { ...PLAIN_HOST_CONFIG, ...hc },
  Mounts: [],
  NetworkSettings: { Networks: { bridge: { IPAMConfig: null, DriverOpts: null, IPAddress: '172.17.0.2' } } },
  ...extra,
});
const defaults = { logDriver: 'json-file', runtime: 'runc', cgroupnsMode: 'host' };
const rules = settingRules(defaultPolicy().rules);
const judged = (req: ReturnType<typeof containerAsCreate>) => findings(rules, req).map((f) => `${f.rule}: ${f.field} ${f.reason}`);

t.test("a plain container's stored HostConfig is what a plain create sent: nothing to refuse", async (t) => {
  const req = containerAsCreate(inspect(), { defaults });
  t.match(req, {
    op: 'container.create',
    method: 'POST',
    identity: { kind: 'anonymous' },
    subject: { kind: 'container', image: 'busybox' },
  });
  t.same(judged(req), []);
  t.same(
    judged(containerAsCreate(inspect())),
    ["host-namespaces: --cgroupns host (HostConfig.CgroupnsMode) shares the host's cgroup namespace"],
    'without the daemon defaults, the cgroup v1 default looks like a request',
  );
});

t.test('what the daemon stored beyond its defaults is judged like a create', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { Privileged: true, SecurityOpt: ['label=disable'], MaskedPaths: null, ReadonlyPaths: null },
      /^no-privileged: --privileged \(HostConfig\.Privileged\)/,
    ],
    [{ Binds: ['/:/host'] }, /^host-paths: -v \/:\/host \(HostConfig\.Binds\[0\]\)/],
    [{ PidMode: 'host' }, /^host-namespaces: --pid host \(HostConfig\.PidMode\)/],
    [{ CapAdd: ['SYS_ADMIN'] }, /^capabilities: --cap-add SYS_ADMIN \(HostConfig\.CapAdd\[0\]\)/],
    [{ MaskedPaths: [] }, /^security-options: --security-opt systempaths=unconfined \(HostConfig\.MaskedPaths\)/],
    [{ MaskedPaths: ['/proc/kcore'] }, /^security-options: the list \["\/proc\/kcore"\] \(HostConfig\.MaskedPaths\)/],
    [{ LogConfig: { Type: 'syslog', Config: {} } }, /^host-settings: --log-driver syslog \(HostConfig\.LogConfig\.Type\)/],
    [{ OomScoreAdj: -1000 }, /^host-resources: --oom-score-adj \(HostConfig\.OomScoreAdj\)/],
    [{ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }, /^devices: /],
  ];
  for (const [hc, finding] of cases) t.match(judged(containerAsCreate(inspect(hc), { defaults })), [finding], JSON.stringify(hc));
  t.same(
    judged(
      containerAsCreate(inspect({ Privileged: true, SecurityOpt: ['label=disable'], MaskedPaths: null, ReadonlyPaths: null }), {
        defaults,
      }),
    ),
    ['no-privileged: --privileged (HostConfig.Privileged) gives the container full access to the host'],
    'the label=disable the daemon adds to a privileged container is not counted as a request',
  );
  t.same(
    judged(containerAsCreate(inspect({ SecurityOpt: ['label=disable'] }), { defaults })),
    ['security-options: --security-opt label=disable (HostConfig.SecurityOpt[0]) disables SELinux labelling'],
    'on an ordinary container it was asked for',
  );
  t.same(
    judged(containerAsCreate(inspect({ MaskedPaths: [...PLAIN_HOST_CONFIG.MaskedPaths, '/sys/devices/virtual/powercap'] }), { defaults })),
    [],
    'a newer, longer default list',
  );
  t.same(
    judged(containerAsCreate(inspect({ LogConfig: { Type: 'syslog' } }), { defaults: { ...defaults, logDriver: 'syslog' } })),
    [],
    "the daemon's own default log driver",
  );
});

t.test('named volumes are judged as if their options had been given inline', async (t) => {
  const withVolume = inspect(
    { Binds: ['hostroot:/r'] },
    {
      Mounts: [{ Type: 'volume', Name: 'hostroot', Source: '/var/lib/docker/volumes/hostroot/_data', Destination: '/r', Driver: 'local' }],
    },
  );
  const volumes = new Map([['hostroot', { Driver: 'local', Options: { type: 'none', o: 'bind', device: '/' } }]]);
  t.same(judged(containerAsCreate(withVolume, { defaults })), [], 'without the volume facts, a named volume is just a name');
  t.same(judged(containerAsCreate(withVolume, { defaults, volumes })), [
    'host-paths: volume "hostroot" (at /r): --mount volume-opt=device=/ (Mounts[0].VolumeOptions.DriverConfig.Options.device) mounts / from the host (this policy allows no host paths)',
  ]);
  t.same(judged(containerAsCreate(withVolume, { defaults, volumes: new Map([['hostroot', { Driver: 'local', Options: null }]]) })), []);
});

t.test("addresses the caller chose are judged; the daemon's own are not", async (t) => {
  const chosen = inspect(
    {},
    { NetworkSettings: { Networks: { n1: { IPAMConfig: { IPv4Address: '198.18.0.5' }, IPAddress: '198.18.0.5' } } } },
  );
  t.match(judged(containerAsCreate(chosen, { defaults })), [
    /^networks: --ip \(NetworkingConfig\.EndpointsConfig\["n1"\]\.IPAMConfig\.IPv4Address\)/,
  ]);
});

t.test('volumes and networks', async (t) => {
  t.match(findings(rules, volumeAsCreate({ Name: 'v', Driver: 'local', Options: { type: 'proc', device: 'proc' } })), [
    { rule: 'host-paths' },
  ]);
  t.same(findings(rules, volumeAsCreate({ Name: 'v', Driver: 'local', Options: null })), []);
  const macvlan = {
    Name: 'mv',
    Id: 'n1',
    Driver: 'macvlan',
    Scope: 'local',
    Options: { parent: 'eth0' },
    IPAM: { Driver: 'default', Config: [{ Subnet: '192.0.2.0/24' }] },
    ConfigFrom: { Network: '' },
  };
  t.match(findings(rules, networkAsCreate(macvlan)), [{ rule: 'networks', field: '--driver (Driver)' }]);
  const plain = { ...macvlan, Driver: 'bridge', Options: {} };
  t.same(findings(rules, networkAsCreate(plain)), [], 'a daemon-chosen subnet is not judged: inspect cannot tell it from a chosen one');
  t.throws(() => volumeAsCreate({}), { code: 'AUTHZ_REQUEST_MALFORMED' });
  t.throws(() => containerAsCreate({ Config: {} }), { code: 'AUTHZ_REQUEST_MALFORMED' });
});
