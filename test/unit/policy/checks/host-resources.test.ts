import t from 'tap';
import { envelope } from '../../../helpers/corpus.js';
import { defaultPolicy, policyFrom, request } from '../../../helpers/policy.js';

const checkOf = (rule: string) =>
  policyFrom(`version: 1\nhello: { enabled: false }\napi: { minVersion: "1.12" }\nrules:\n  - ${rule}\n`).rules[0]!.check;
const defaults = defaultPolicy().rules.find((r) => r.id === 'host-resources')!.check;
const create = (hc: Record<string, unknown>) => request(envelope('POST', '/v1.41/containers/create', { Image: 'busybox', HostConfig: hc }));
const update = (body: Record<string, unknown>) => request(envelope('POST', '/v1.41/containers/c1/update', body));

t.test('everyday settings, and what compose always sends, are allowed', async (t) => {
  t.equal(defaults(create({})), undefined);
  t.equal(
    defaults(
      create({ OomKillDisable: false, OomScoreAdj: 0, PidsLimit: 100, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, Memory: 1 << 28 }),
    ),
    undefined,
  );
  t.equal(defaults(create({ OomScoreAdj: 500 })), undefined, 'a higher score only makes the container die first');
  t.equal(
    defaults(
      create({
        Ulimits: [
          { Name: 'nofile', Soft: 1024, Hard: 65536 },
          { Name: 'rtprio', Soft: 0, Hard: 0 },
        ],
      }),
    ),
    undefined,
  );
  t.equal(defaults(create({ PidsLimit: -1 })), undefined, 'on create, 0 and -1 mean "no limit given": the same as leaving it out');
  t.equal(defaults(create({ PidsLimit: 0 })), undefined);
  t.equal(defaults(create({ BlkioWeight: 300, OomKillDisable: null, Ulimits: null })), undefined);
});

t.test('each host-resource setting is refused with its flag and field', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ OomScoreAdj: -1000 }, '--oom-score-adj (HostConfig.OomScoreAdj)', /-1000 makes the host's own processes die first.*minimum 0/],
    [{ OomScoreAdj: -1 }, '--oom-score-adj (HostConfig.OomScoreAdj)', /-1/],
    [{ OomKillDisable: true }, '--oom-kill-disable (HostConfig.OomKillDisable)', /true keeps the kernel from killing/],
    [{ PidsLimit: 100000 }, '--pids-limit (HostConfig.PidsLimit)', /100000 is above the allowed maximum 32768/],
    [
      { Ulimits: [{ Name: 'rtprio', Soft: 99, Hard: 99 }] },
      '--ulimit rtprio (HostConfig.Ulimits[0].Hard)',
      /99 is above the allowed maximum \(rtprio=0, nice=0\)/,
    ],
    [{ Ulimits: [{ Name: 'RTPRIO', Soft: 0, Hard: 1 }] }, '--ulimit RTPRIO (HostConfig.Ulimits[0].Hard)', /1 is above/],
    [{ Ulimits: [{ Name: 'rtprıo', Soft: 0, Hard: 5 }] }, '--ulimit rtprıo (HostConfig.Ulimits[0].Hard)', /5/],
    [{ Ulimits: [{ Name: 'nice', Soft: -1, Hard: 0 }] }, '--ulimit nice (HostConfig.Ulimits[0].Soft)', /-1 \(unlimited\)/],
    [{ Ulimits: [null, { Name: 'nice', Soft: 40, Hard: 40 }] }, '--ulimit nice (HostConfig.Ulimits[1].Hard)', /40/],
    [{ CpuRealtimeRuntime: 950000 }, '--cpu-rt-runtime (HostConfig.CpuRealtimeRuntime)', /real-time/],
    [{ CpuRealtimePeriod: 1000000 }, '--cpu-rt-period (HostConfig.CpuRealtimePeriod)', /real-time/],
    [
      { BlkioDeviceReadBps: [{ Path: '/etc/shadow', Rate: 1 }] },
      '--device-read-bps (HostConfig.BlkioDeviceReadBps[0].Path)',
      /"\/etc\/shadow" makes the daemon look the path up on the host/,
    ],
    [{ BlkioDeviceWriteBps: [{ Path: '/x', Rate: 1 }] }, '--device-write-bps (HostConfig.BlkioDeviceWriteBps[0].Path)', /./],
    [{ BlkioDeviceReadIOps: [{ Path: '/x', Rate: 1 }] }, '--device-read-iops (HostConfig.BlkioDeviceReadIOps[0].Path)', /./],
    [{ BlkioDeviceWriteIOps: [{ Path: '/x', Rate: 1 }] }, '--device-write-iops (HostConfig.BlkioDeviceWriteIOps[0].Path)', /./],
    [{ BlkioWeightDevice: [null, { Path: '/x', Weight: 10 }] }, '--blkio-weight-device (HostConfig.BlkioWeightDevice[1].Path)', /./],
  ];
  for (const [hc, field, reason] of cases) t.match(defaults(create(hc)), { field, reason }, JSON.stringify(hc));
  t.match(
    defaults(request(envelope('POST', '/v1.41/containers/create', { Image: 'b', OomScoreAdj: -500 }))),
    { field: '--oom-score-adj (OomScoreAdj)' },
    'top-level HostConfig fields too',
  );
  t.match(defaults(create({ Ulimits: [{ Name: 'rtprio', Soft: 99, Hard: 99 }] })), { field: /Hard/ });
});

t.test('update: PidsLimit 0 and -1 remove the limit', async (t) => {
  t.match(defaults(update({ PidsLimit: -1 })), { field: '--pids-limit (PidsLimit)', reason: /removes the container's process limit/ });
  t.match(defaults(update({ PidsLimit: 0 })), { field: '--pids-limit (PidsLimit)' });
  t.equal(defaults(update({ PidsLimit: 50 })), undefined);
  t.match(defaults(update({ BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }] })), { field: /BlkioDeviceReadBps/ });
  t.equal(defaults(update({ CpuShares: 512, Memory: 1 << 28 })), undefined);
});

t.test('build ulimits (legacy builder) are judged', async (t) => {
  const build = (ulimits: string) =>
    request(envelope('POST', `/v1.41/build?ulimits=${encodeURIComponent(ulimits)}`, undefined, { 'Content-Type': 'application/x-tar' }));
  t.match(defaults(build('[{"Name":"rtprio","Hard":99,"Soft":99}]')), { field: '--ulimit rtprio (Ulimits[0].Hard)' });
  t.match(defaults(build('[{"name":"RTPRIO","hard":99,"soft":99}]')), { field: /Ulimits\[0\]/ }, 'keys match case-insensitively');
  t.equal(defaults(build('[{"Name":"nofile","Hard":4096,"Soft":4096}]')), undefined);
  t.throws(() => build('[{"Name":"rtprio","Hard":99}] x'), /after its JSON value/);
  t.throws(() => build('{"Name":"rtprio"}'), /array/);
});

t.test('options loosen the rule', async (t) => {
  const loose = checkOf(
    '{ id: r, kind: host-resources, minOomScoreAdj: -500, allowOomKillDisable: true, maxUlimits: { rtprio: 10 }, allowRealtime: true, allowBlkioDevices: true }',
  );
  t.equal(
    loose(
      create({
        OomScoreAdj: -500,
        OomKillDisable: true,
        Ulimits: [
          { Name: 'rtprio', Hard: 10, Soft: 10 },
          { Name: 'nice', Hard: 40, Soft: 40 },
        ],
      }),
    ),
    undefined,
  );
  t.equal(
    loose(create({ CpuRealtimeRuntime: 1000, BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }], PidsLimit: 10 ** 9 })),
    undefined,
    'no pids maximum unless set',
  );
  t.equal(loose(update({ PidsLimit: -1 })), undefined);
  t.throws(
    () => policyFrom('version: 1\nrules:\n  - { id: r, kind: host-resources, maxUlimits: { rtpriority: 0 } }\n'),
    'unknown limit names are refused',
  );
});
