/**
 * Bypass suite (see helpers/bypass.ts for the method), host access through a request's options:
 * volumes that bind or mount host filesystems (10), privileged exec (11), capabilities (12), host
 * paths spelled differently (13), no-new-privileges turned off with the spellings the daemon
 * accepts (19) and host resources: OOM, process and real-time limits, a file-existence oracle (20).
 */
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import type { Dockerd } from './helpers/dockerd.js';
import {
  B,
  api,
  beyondHostComment,
  bypassSuite,
  createdContainer,
  describe,
  effectiveCaps,
  hostBind,
  inspect,
  json,
  plainContainer,
  type BypassCase,
  type Env,
  type VolumeInspect,
} from './helpers/bypass.js';
import type { RawResponse } from './helpers/raw.js';

const CAP_SYS_ADMIN = 21n;
const CAP_SYS_RESOURCE = 24n;

/** Whether this machine's bounding set has the capability (some CI sandboxes lack CAP_SYS_RESOURCE). */
function hasCapability(bit: bigint): boolean {
  const m = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m !== null && ((BigInt(`0x${m[1]}`) >> bit) & 1n) === 1n;
}

const withCapSysAdmin = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  const c = await createdContainer(t, env.d, res);
  if (!c) return;
  const caps = await effectiveCaps(t, env.d, c.Id);
  if (caps === 'beyond-host') beyondHostComment(t, `CapAdd ${JSON.stringify(c.HostConfig.CapAdd)}`);
  const granted = caps === 'beyond-host' || (caps !== undefined && ((caps >> CAP_SYS_ADMIN) & 1n) === 1n);
  t.ok(granted, `the container's process runs with CAP_SYS_ADMIN (CapEff ${typeof caps === 'bigint' ? caps.toString(16) : caps})`);
};

const MOUNT_LOCAL_BIND_ROOT = {
  Type: 'volume',
  Source: 'hostroot2',
  Target: '/h',
  VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } },
};

/** Starts a created container, waits for it and returns what it printed. */
async function startAndRead(t: Test, d: Dockerd, id: string): Promise<string> {
  const started = await d.request('POST', `/v1.41/containers/${id}/start`);
  if (!t.equal(started.status, 204, `the container starts: ${started.body}`)) return '';
  await api(d, 'POST', `/v1.41/containers/${id}/wait`);
  return (await d.request('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`)).body;
}

const CASES: BypassCase[] = [
  {
    id: '10a',
    name: 'local volume binding host /: POST /v1.41/volumes/create, DriverOpts type=none,o=bind,device=/',
    note: 'named "hostroot": the brief\'s name "v" is refused by the daemon as too short',
    request: () =>
      json('/v1.41/volumes/create', { Name: 'hostroot', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/' } }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the volume: ${describe(res)}`)) return;
      const v = await api<VolumeInspect>(env.d, 'GET', '/v1.41/volumes/hostroot');
      t.same(v.Options, { type: 'none', o: 'bind', device: '/' }, 'with the bind of host / in its options');
    },
    refusal: /^denied by rule host-paths: --opt device=\/ \(DriverOpts\.device\)/,
  },
  {
    id: '10b',
    name: 'the same volume inline: --mount type=volume with DriverConfig in HostConfig.Mounts[0]',
    request: () => json('/v1.41/containers/create', { Image: B, HostConfig: { Mounts: [MOUNT_LOCAL_BIND_ROOT] } }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      t.ok(
        c.Mounts.some((m) => m.Type === 'volume' && m.Name === 'hostroot2' && m.Destination === '/h'),
        'the container mounts volume hostroot2',
      );
      const v = await api<VolumeInspect>(env.d, 'GET', '/v1.41/volumes/hostroot2');
      t.same(v.Options, { type: 'none', o: 'bind', device: '/' }, 'which the daemon created binding host /');
    },
    refusal:
      /^denied by rule host-paths: --mount volume-opt=device=\/ \(HostConfig\.Mounts\[0\]\.VolumeOptions\.DriverConfig\.Options\.device\)/,
  },
  {
    id: '10c',
    name: "local volume mounting the host's procfs: DriverOpts type=proc,device=proc",
    request: () => json('/v1.41/volumes/create', { Name: 'hostproc', Driver: 'local', DriverOpts: { type: 'proc', device: 'proc' } }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the volume: ${describe(res)}`)) return;
      const v = await api<VolumeInspect>(env.d, 'GET', '/v1.41/volumes/hostproc');
      t.same(v.Options, { type: 'proc', device: 'proc' }, "a volume that mounts the host kernel's proc");
    },
    refusal: /^denied by rule host-paths: --opt type=proc \(DriverOpts\.type\) makes the local volume driver mount a host filesystem/,
  },
  {
    id: '11',
    name: 'privileged exec: POST /v1.41/containers/{id}/exec {"Cmd":["true"],"Privileged":true}',
    setup: (d) => plainContainer(d, ['sleep', '600'], true),
    request: ({ fx }) => json(`/v1.41/containers/${fx.id}/exec`, { Cmd: ['true'], Privileged: true }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the exec: ${describe(res)}`)) return;
      const { Id } = JSON.parse(res.body) as { Id: string };
      const exec = await api<{ ProcessConfig: { privileged: boolean } }>(env.d, 'GET', `/v1.41/exec/${Id}/json`);
      t.equal(exec.ProcessConfig.privileged, true, 'a PRIVILEGED exec');
    },
    refusal: /^denied by rule no-privileged: docker exec --privileged \(Privileged\)/,
    untouched: async (t, env) => {
      t.same((await inspect(env.d, env.fx.id!)).ExecIDs ?? [], [], 'no exec was created');
    },
  },
  {
    id: '12a',
    name: 'capability spelled in lower case: CapAdd ["cap_sys_admin"]',
    request: () =>
      json('/v1.41/containers/create', {
        Image: B,
        Cmd: ['grep', 'CapEff', '/proc/self/status'],
        HostConfig: { CapAdd: ['cap_sys_admin'] },
      }),
    executed: withCapSysAdmin,
    refusal: /^denied by rule capabilities: --cap-add cap_sys_admin \(HostConfig\.CapAdd\[0\]\)/,
  },
  {
    id: '12b',
    name: 'every capability: CapAdd ["ALL"]',
    request: () =>
      json('/v1.41/containers/create', { Image: B, Cmd: ['grep', 'CapEff', '/proc/self/status'], HostConfig: { CapAdd: ['ALL'] } }),
    executed: withCapSysAdmin,
    refusal: /^denied by rule capabilities: --cap-add ALL \(HostConfig\.CapAdd\[0\]\)/,
  },
  {
    id: '13a',
    name: 'host path with dot-dot: Binds ["/var/run/../../:/host"]',
    request: () => json('/v1.41/containers/create', { Image: B, HostConfig: { Binds: ['/var/run/../../:/host'] } }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/var\/run\/\.\.\/\.\.\/:\/host \(HostConfig\.Binds\[0\]\)/,
  },
  {
    id: '13b',
    name: 'host path with a double slash: Binds ["//:/host"]',
    request: () => json('/v1.41/containers/create', { Image: B, HostConfig: { Binds: ['//:/host'] } }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/\/:\/host \(HostConfig\.Binds\[0\]\)/,
  },
  {
    id: '13c',
    name: 'host path with a trailing slash: Binds ["/etc/:/h"]',
    request: () => json('/v1.41/containers/create', { Image: B, HostConfig: { Binds: ['/etc/:/h'] } }),
    executed: hostBind('/etc', '/h'),
    refusal: /^denied by rule host-paths: -v \/etc\/:\/h \(HostConfig\.Binds\[0\]\)/,
  },
  // ---- option values read as the daemon reads them
  ...(['no-new-privileges=0', 'no-new-privileges:f', 'no-new-privileges=False'] as const).map((opt, i): BypassCase => ({
    id: `19${'abc'[i]}`,
    name: `no-new-privileges turned off against the daemon-wide setting: SecurityOpt ["${opt}"]`,
    note: "the daemon reads the value with strconv.ParseBool ('0', 'f', 'F', 'False', ...), and ':' separates when there is no '='",
    request: () =>
      json('/v1.41/containers/create', { Image: B, Cmd: ['grep', 'NoNewPrivs', '/proc/self/status'], HostConfig: { SecurityOpt: [opt] } }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      t.match(await startAndRead(t, env.d, c.Id), /NoNewPrivs:\s+0/, 'the process may gain privileges (NoNewPrivs 0)');
      const control = await plainContainer(env.d, ['grep', 'NoNewPrivs', '/proc/self/status']);
      t.match(await startAndRead(t, env.d, control.id!), /NoNewPrivs:\s+1/, 'while the daemon confines every other container');
    },
    refusal: new RegExp(
      `^denied by rule security-options: --security-opt ${opt} \\(HostConfig\\.SecurityOpt\\[0\\]\\) turns off no-new-privileges`,
    ),
  })),
  // ---- host resources
  {
    id: '20a',
    name: 'immune to the OOM killer: HostConfig.OomScoreAdj -1000',
    request: () =>
      json('/v1.41/containers/create', { Image: B, Cmd: ['cat', '/proc/self/oom_score_adj'], HostConfig: { OomScoreAdj: -1000 } }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      const started = await env.d.request('POST', `/v1.41/containers/${c.Id}/start`);
      if (started.status === 500 && !hasCapability(CAP_SYS_RESOURCE)) {
        t.comment("this machine's bounding set lacks CAP_SYS_RESOURCE, so runc cannot lower the score; the daemon asked it to");
        t.equal(c.HostConfig.OomScoreAdj, -1000, 'the daemon kept OomScoreAdj -1000 for the container');
        t.match(started.body, 'runc create failed', `and runc failed applying it: ${started.body}`);
        return;
      }
      await api(env.d, 'POST', `/v1.41/containers/${c.Id}/wait`);
      const logs = await env.d.request('GET', `/v1.41/containers/${c.Id}/logs?stdout=1`);
      t.match(logs.body, '-1000', 'the process runs with oom_score_adj -1000');
    },
    refusal: /^denied by rule host-resources: --oom-score-adj \(HostConfig\.OomScoreAdj\) -1000/,
  },
  {
    id: '20b',
    name: 'OOM killer disabled: HostConfig.OomKillDisable true',
    request: () =>
      json('/v1.41/containers/create', {
        Image: B,
        Cmd: ['grep', 'oom_kill_disable', '/sys/fs/cgroup/memory/memory.oom_control'],
        HostConfig: { OomKillDisable: true, Memory: 64 * 1024 * 1024 },
      }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (c) t.match(await startAndRead(t, env.d, c.Id), /oom_kill_disable 1/, "the container's memory cgroup will not OOM-kill");
    },
    refusal: /^denied by rule host-resources: --oom-kill-disable \(HostConfig\.OomKillDisable\) true/,
  },
  {
    id: '20c',
    name: 'process limit above the cap: HostConfig.PidsLimit 100000',
    request: () =>
      json('/v1.41/containers/create', { Image: B, Cmd: ['cat', '/sys/fs/cgroup/pids/pids.max'], HostConfig: { PidsLimit: 100000 } }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (c) t.match(await startAndRead(t, env.d, c.Id), /100000\n/, 'pids.max is 100000');
    },
    refusal: /^denied by rule host-resources: --pids-limit \(HostConfig\.PidsLimit\) 100000 is above the allowed maximum 32768/,
  },
  {
    id: '20d',
    name: 'process limit removed by an update: POST /containers/{id}/update {"PidsLimit":-1}',
    setup: async (d) => {
      const { Id } = await api<{ Id: string }>(d, 'POST', '/v1.41/containers/create', {
        Image: B,
        Cmd: ['sleep', '60'],
        HostConfig: { PidsLimit: 100 },
      });
      await api(d, 'POST', `/v1.41/containers/${Id}/start`);
      return { id: Id };
    },
    request: (env) => json(`/v1.41/containers/${env.fx.id}/update`, { PidsLimit: -1 }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 200, `the daemon updated the container: ${describe(res)}`)) return;
      const exec = await api<{ Id: string }>(env.d, 'POST', `/v1.41/containers/${env.fx.id}/exec`, {
        Cmd: ['cat', '/sys/fs/cgroup/pids/pids.max'],
        AttachStdout: true,
      });
      const out = await env.d.request('POST', `/v1.41/exec/${exec.Id}/start`, {
        headers: { 'Content-Type': 'application/json' },
        body: '{"Detach":false}',
      });
      t.match(out.body, 'max', `pids.max is "max" again: ${JSON.stringify(out.body)}`);
    },
    refusal: /^denied by rule host-resources: --pids-limit \(PidsLimit\) -1 removes the container's process limit/,
  },
  {
    id: '20e',
    name: 'real-time priority for any process: HostConfig.Ulimits [{"Name":"rtprio","Soft":99,"Hard":99}]',
    request: () =>
      json('/v1.41/containers/create', {
        Image: B,
        Cmd: ['grep', 'realtime priority', '/proc/self/limits'],
        HostConfig: { Ulimits: [{ Name: 'rtprio', Soft: 99, Hard: 99 }] },
      }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      const started = await env.d.request('POST', `/v1.41/containers/${c.Id}/start`);
      if (started.status === 500 && !hasCapability(CAP_SYS_RESOURCE)) {
        t.comment("this machine's bounding set lacks CAP_SYS_RESOURCE, so runc cannot raise the limit; the daemon asked it to");
        t.match(started.body, 'error setting rlimit type 14', `runc was asked to set RLIMIT_RTPRIO (14): ${started.body}`);
        return;
      }
      await api(env.d, 'POST', `/v1.41/containers/${c.Id}/wait`);
      const logs = await env.d.request('GET', `/v1.41/containers/${c.Id}/logs?stdout=1`);
      t.match(logs.body, /realtime priority\s+99\s+99/, 'any process in it may take real-time priority 99');
    },
    refusal: /^denied by rule host-resources: --ulimit rtprio \(HostConfig\.Ulimits\[0\]\.Hard\) 99 is above the allowed maximum/,
  },
  {
    id: '20f',
    name: 'real-time CPU time: HostConfig.CpuRealtimeRuntime 95000',
    note: "the daemon asks the kernel for real-time bandwidth in the container's cgroup; here the parent cgroup has none to give",
    request: () =>
      json('/v1.41/containers/create', { Image: B, Cmd: ['true'], HostConfig: { CpuRealtimeRuntime: 95000, CpuRealtimePeriod: 1000000 } }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      const started = await env.d.request('POST', `/v1.41/containers/${c.Id}/start`);
      if (started.status === 204) t.pass('the container runs with real-time CPU time');
      else t.match(started.body, /cpu\.rt_runtime_us/, `runc was asked to write cpu.rt_runtime_us: ${started.body}`);
    },
    refusal: /^denied by rule host-resources: --cpu-rt-runtime \(HostConfig\.CpuRealtimeRuntime\) 95000/,
  },
  {
    id: '20g',
    name: 'a file-existence oracle: HostConfig.BlkioDeviceReadBps [{"Path":"/<token> that does not exist"}]',
    note: 'the daemon stat()s the path on the host at start and reports the result',
    request: (env) =>
      json('/v1.41/containers/create', {
        Image: B,
        Cmd: ['true'],
        HostConfig: { BlkioDeviceReadBps: [{ Path: `/nonexistent-${env.token}`, Rate: 1048576 }] },
      }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      const started = await env.d.request('POST', `/v1.41/containers/${c.Id}/start`);
      t.match(
        started.body,
        `stat /nonexistent-${env.token}: no such file or directory`,
        `the daemon looked the host path up: ${started.body}`,
      );
    },
    refusal:
      /^denied by rule host-resources: --device-read-bps \(HostConfig\.BlkioDeviceReadBps\[0\]\.Path\) "\/nonexistent-20g-guarded" makes the daemon look the path up/,
  },
  {
    id: '20h',
    name: 'real-time priority for build steps: POST /build?ulimits=[{"Name":"rtprio","Hard":99,"Soft":99}]',
    request: (env) => ({
      method: 'POST',
      target: `/v1.41/build?ulimits=${encodeURIComponent('[{"Name":"rtprio","Hard":99,"Soft":99}]')}&nocache=1&rm=1&forcerm=1`,
      headers: [['Content-Type', 'application/x-tar']],
      body: env.assets.limitsContext,
    }),
    executed: async (t, _env, res) => {
      if (!hasCapability(CAP_SYS_RESOURCE) && res.body.includes('error setting rlimit type 14')) {
        t.comment("this machine's bounding set lacks CAP_SYS_RESOURCE, so runc cannot raise the limit; the daemon asked it to");
        t.pass('runc was asked to set RLIMIT_RTPRIO (14) for the RUN step');
        return;
      }
      t.match(res.body, /realtime priority\s+99\s+99/, 'the RUN step ran with real-time priority 99 allowed');
    },
    refusal: /^denied by rule host-resources: --ulimit rtprio \(Ulimits\[0\]\.Hard\) 99/,
  },
];

bypassSuite('host access through options', CASES);
