/**
 * Bypass suite (see helpers/bypass.ts for the method), networks and registries: networks on host
 * interfaces, host bridges and chosen subnets or addresses (16), registries, logins, searches and
 * plugin installs that reach services on this host (17). The everyday forms of the same operations
 * are checked to stay allowed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { B, api, bypassSuite, createdContainer, describe, json, plainContainer, run, type BypassCase, type Env } from './helpers/bypass.js';
import { rawRequest, sendRaw, type RawRequestSpec, type RawResponse } from './helpers/raw.js';

/** A per-case /24 in 198.18.0.0/15 (benchmarking space, on no real network) and a host interface name. */
type Named = Pick<Env, 'assets' | 'token'>;
const caseHash = (env: Named) => createHash('sha256').update(`${env.assets.salt}:${env.token}`).digest();
const subnetOf = (env: Named) => `198.${18 + (caseHash(env)[0]! & 1)}.${caseHash(env)[1]!}.0/24`;
const bridgeName = (env: Named) => `az${caseHash(env).toString('hex').slice(0, 10)}`;

const pull = (ref: string): RawRequestSpec => ({
  method: 'POST',
  target: `/v1.41/images/create?fromImage=${encodeURIComponent(ref)}&tag=latest`,
  headers: [['Content-Length', '0']],
});

/** Proof that the daemon talked to the service on this host: it asked for `path`. */
const registryReached =
  (path: (env: Env) => string) =>
  async (t: Test, env: Env, res: RawResponse): Promise<void> => {
    t.ok(env.assets.fetches.hits(path(env)).length > 0, `the daemon asked the service on this host for ${path(env)} (${describe(res)})`);
  };

const registryUntouched =
  (path: (env: Env) => string) =>
  async (t: Test, env: Env): Promise<void> => {
    t.same(env.assets.fetches.hits(path(env)), [], 'the daemon asked the service on this host nothing');
  };

/** Logins carry no token in their path: the setup marks the recorder, the proof counts /v2/ pings since. */
const loginReached = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  t.ok(env.assets.fetches.hits('/v2/', Number(env.fx.id)).length > 0, `the daemon pinged the registry on this host (${describe(res)})`);
  t.match(res.body, `127.0.0.1:${env.assets.fetches.port}/v2/`, 'and reports its answer');
};

const loginUntouched = async (t: Test, env: Env): Promise<void> => {
  t.same(env.assets.fetches.hits('/v2/', Number(env.fx.id)), [], 'the daemon contacted no registry');
};

const CASES: BypassCase[] = [
  // ---- side doors, second round: networks
  {
    id: '16a',
    name: 'macvlan network on a host interface: POST /v1.41/networks/create {"Driver":"macvlan","Options":{"parent":<host NIC>}}',
    note: "a container on it gets a macvlan sub-interface of the host's NIC: straight onto the host's network",
    request: (env) =>
      json('/v1.41/networks/create', { Name: `mv-${env.token}`, Driver: 'macvlan', Options: { parent: env.assets.hostInterface } }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the network: ${describe(res)}`)) return;
      const { Id } = JSON.parse(res.body) as { Id: string };
      const c = await api<{ Id: string }>(env.d, 'POST', '/v1.41/containers/create', {
        Image: B,
        Cmd: ['sleep', '60'],
        HostConfig: { NetworkMode: Id },
      });
      await api(env.d, 'POST', `/v1.41/containers/${c.Id}/start`);
      const { State } = await api<{ State: { Pid: number } }>(env.d, 'GET', `/v1.41/containers/${c.Id}/json`);
      const link = await run('nsenter', ['-t', String(State.Pid), '-n', 'ip', '-d', 'link', 'show', 'eth0']);
      const parentIndex = readFileSync(`/sys/class/net/${env.assets.hostInterface}/ifindex`, 'utf8').trim();
      t.match(link, /macvlan mode/, `the container's eth0 is a macvlan device: ${link}`);
      t.match(link, new RegExp(`eth0@if${parentIndex}:`), `on host interface ${env.assets.hostInterface} (ifindex ${parentIndex})`);
    },
    refusal: /^denied by rule networks: --driver \(Driver\) "macvlan" attaches containers directly to a host interface/,
  },
  {
    id: '16b',
    name: 'bridge network naming a host interface and a subnet: Options com.docker.network.bridge.name, IPAM 198.18.x.0/24',
    note: 'the daemon creates the named interface on the host with the gateway address, and a host route to the subnet',
    request: (env) =>
      json('/v1.41/networks/create', {
        Name: `br-${env.token}`,
        Options: { 'com.docker.network.bridge.name': bridgeName(env) },
        IPAM: { Config: [{ Subnet: subnetOf(env) }] },
      }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the network: ${describe(res)}`)) return;
      const addr = await run('ip', ['-o', 'addr', 'show', 'dev', bridgeName(env)]);
      t.match(addr, subnetOf(env).replace('0/24', '1/24'), `host interface ${bridgeName(env)} has the gateway address: ${addr}`);
      const route = await run('ip', ['route', 'show', subnetOf(env)]);
      t.match(route, `dev ${bridgeName(env)}`, `and the host routes ${subnetOf(env)} to it: ${route}`);
    },
    refusal:
      /^denied by rule networks: --opt com\.docker\.network\.bridge\.name \(Options\["com\.docker\.network\.bridge\.name"\]\) names the host bridge interface/,
  },
  {
    id: '16c',
    name: 'bridge network with a chosen subnet outside the allowed pools: IPAM.Config[0].Subnet 198.18.x.0/24',
    note: "the host's routing table gets the subnet: a subnet that overlaps the host's networks takes them over",
    request: (env) => json('/v1.41/networks/create', { Name: `sn-${env.token}`, IPAM: { Config: [{ Subnet: subnetOf(env) }] } }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 201, `the daemon created the network: ${describe(res)}`)) return;
      const route = await run('ip', ['route', 'show', subnetOf(env)]);
      t.match(route, /dev br-[0-9a-f]{12}/, `the host routes ${subnetOf(env)} to the network's bridge: ${route}`);
    },
    refusal:
      /^denied by rule networks: --subnet \(IPAM\.Config\[0\]\.Subnet\) "198\.1[89]\.\d+\.0\/24" is outside the allowed address pools/,
  },
  {
    id: '16d',
    name: 'connect with a chosen address to a network made before the plugin: EndpointConfig.IPAMConfig.IPv4Address',
    setup: async (d, env) => {
      const { Id: network } = await env.withoutPlugin(() =>
        api<{ Id: string }>(d, 'POST', '/v1.41/networks/create', {
          Name: `old-${env.token}`,
          IPAM: { Config: [{ Subnet: subnetOf(env) }] },
        }),
      );
      return { ...(await plainContainer(d, ['true'])), network };
    },
    request: (env) =>
      json(`/v1.41/networks/${env.fx.network}/connect`, {
        Container: env.fx.id,
        EndpointConfig: { IPAMConfig: { IPv4Address: subnetOf(env).replace('0/24', '77') } },
      }),
    executed: async (t, env, res) => {
      if (!t.equal(res.status, 200, `the daemon connected the container: ${describe(res)}`)) return;
      const c = await api<{ NetworkSettings: { Networks: Record<string, { IPAMConfig?: { IPv4Address?: string } }> } }>(
        env.d,
        'GET',
        `/v1.41/containers/${env.fx.id}/json`,
      );
      t.equal(
        c.NetworkSettings.Networks[`old-${env.token}`]?.IPAMConfig?.IPv4Address,
        subnetOf(env).replace('0/24', '77'),
        'with the chosen address',
      );
    },
    refusal:
      /^denied by rule networks: --ip \(EndpointConfig\.IPAMConfig\.IPv4Address\) "198\.1[89]\.\d+\.77" is outside the allowed address pools/,
  },
  {
    id: '16e',
    name: 'container create with a chosen address on a network made before the plugin: NetworkingConfig...IPAMConfig.IPv4Address',
    setup: async (d, env) => {
      const { Id: network } = await env.withoutPlugin(() =>
        api<{ Id: string }>(d, 'POST', '/v1.41/networks/create', {
          Name: `old-${env.token}`,
          IPAM: { Config: [{ Subnet: subnetOf(env) }] },
        }),
      );
      return { network };
    },
    request: (env) =>
      json('/v1.41/containers/create', {
        Image: B,
        HostConfig: { NetworkMode: `old-${env.token}` },
        NetworkingConfig: {
          EndpointsConfig: { [`old-${env.token}`]: { IPAMConfig: { IPv4Address: subnetOf(env).replace('0/24', '78') } } },
        },
      }),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (!c) return;
      const full = await api<{ NetworkSettings: { Networks: Record<string, { IPAMConfig?: { IPv4Address?: string } }> } }>(
        env.d,
        'GET',
        `/v1.41/containers/${c.Id}/json`,
      );
      t.equal(
        full.NetworkSettings.Networks[`old-${env.token}`]?.IPAMConfig?.IPv4Address,
        subnetOf(env).replace('0/24', '78'),
        'with the chosen address',
      );
    },
    refusal:
      /^denied by rule networks: --ip \(NetworkingConfig\.EndpointsConfig\["old-16e-guarded"\]\.IPAMConfig\.IPv4Address\) "198\.1[89]\.\d+\.78" is outside/,
  },
  // ---- registries on the host
  {
    id: '17a',
    name: 'pull from a registry on the loopback address: POST /images/create?fromImage=127.0.0.1:<port>/<token>/x',
    note: 'the daemon talks plain HTTP to 127.0.0.0/8 (an insecure registry by default) and copies the answers into its errors',
    request: (env) => pull(`127.0.0.1:${env.assets.fetches.port}/${env.token}/x`),
    executed: registryReached((env) => `/v2/${env.token}/x/manifests/`),
    refusal:
      /^denied by rule registries: docker pull \(fromImage\) "127\.0\.0\.1:\d+\/17a-guarded\/x" goes to registry "127\.0\.0\.1:\d+", a loopback address/,
    untouched: registryUntouched((env) => `/v2/${env.token}/`),
  },
  {
    id: '17b',
    name: 'pull from localhost:<port>',
    request: (env) => pull(`localhost:${env.assets.fetches.port}/${env.token}/x`),
    executed: registryReached((env) => `/v2/${env.token}/x/manifests/`),
    refusal: /^denied by rule registries: docker pull \(fromImage\) .* a name for the loopback address/,
    untouched: registryUntouched((env) => `/v2/${env.token}/`),
  },
  {
    id: '17c',
    name: 'pull from LOCALHOST:<port> (upper case)',
    note: 'host names are case-insensitive to the resolver; the reference parser keeps the registry as written',
    request: (env) => pull(`LOCALHOST:${env.assets.fetches.port}/${env.token}/x`),
    executed: registryReached((env) => `/v2/${env.token}/x/manifests/`),
    refusal: /^denied by rule registries: .* a name for the loopback address/,
    untouched: registryUntouched((env) => `/v2/${env.token}/`),
  },
  {
    id: '17d',
    name: 'pull from 0.0.0.0:<port>',
    note: 'connecting to 0.0.0.0 reaches the host itself; not an insecure registry, so the daemon speaks TLS to the service',
    request: (env) => pull(`0.0.0.0:${env.assets.fetches.port}/${env.token}/x`),
    executed: async (t, env, res) => {
      t.match(res.body, `https://0.0.0.0:${env.assets.fetches.port}/v2/`, 'the daemon dialled the service on this host');
      t.match(res.body, 'server gave HTTP response to HTTPS client', 'and read its answer');
    },
    refusal: /^denied by rule registries: .* "this host" \(0\.0\.0\.0\/8 connects to the host itself\)/,
  },
  {
    id: '17e',
    name: 'pull from 2130706433:<port> (127.0.0.1 as one decimal number)',
    note:
      "dockerd here resolves names with Go's own resolver, which asks DNS for 2130706433; a daemon that resolves " +
      'through the C library (cgo: mdns or myhostname in nsswitch.conf) reads it as 127.0.0.1. Refused either way.',
    route: false,
    request: (env) => pull(`2130706433:${env.assets.fetches.port}/${env.token}/x`),
    executed: async (t, env, res) => {
      t.match(res.body, 'lookup 2130706433', "this daemon's resolver looked the number up as a name");
      t.same(env.assets.fetches.hits(`/v2/${env.token}/`), [], 'and reached nothing');
    },
    refusal: /^denied by rule registries: .* a loopback address/,
  },
  {
    id: '17f',
    name: 'push to a registry on the loopback address: POST /images/127.0.0.1:<port>/<token>/x/push',
    setup: async (d, env) => {
      const repo = `127.0.0.1:${env.assets.fetches.port}/${env.token}/x`;
      await api(d, 'POST', `/v1.41/images/${B}/tag?repo=${encodeURIComponent(repo)}&tag=latest`);
      return {};
    },
    request: (env) => ({
      method: 'POST',
      target: `/v1.41/images/127.0.0.1:${env.assets.fetches.port}/${env.token}/x/push?tag=latest`,
      headers: [
        ['X-Registry-Auth', 'e30='],
        ['Content-Length', '0'],
      ],
    }),
    executed: registryReached((env) => `/v2/${env.token}/x/blobs/uploads/`),
    refusal: /^denied by rule registries: docker push \(name\) .* a loopback address/,
    untouched: registryUntouched((env) => `/v2/${env.token}/`),
  },
  {
    id: '17g',
    name: 'login to a registry on the loopback address: POST /auth {"serveraddress":"127.0.0.1:<port>"}',
    setup: async (_d, env) => ({ id: String(env.assets.fetches.mark()) }),
    request: (env) => json('/v1.41/auth', { username: 'u', password: 'p', serveraddress: `127.0.0.1:${env.assets.fetches.port}` }),
    executed: loginReached,
    refusal: /^denied by rule registries: docker login \(serveraddress\) "127\.0\.0\.1:\d+" goes to registry/,
    untouched: loginUntouched,
  },
  {
    id: '17h',
    name: 'login with a body the plugin is not shown: POST /auth, Content-Type text/plain',
    note: 'the daemon forwards only JSON bodies to plugins, and its login handler decodes the body whatever the Content-Type',
    setup: async (_d, env) => ({ id: String(env.assets.fetches.mark()) }),
    request: (env) => ({
      ...json('/v1.41/auth', { username: 'u', password: 'p', serveraddress: `127.0.0.1:${env.assets.fetches.port}` }),
      headers: [['Content-Type', 'text/plain']],
    }),
    executed: loginReached,
    refusal: /^denied by rule registries: docker login \(serveraddress\) is in a body the daemon did not show to the plugin/,
    untouched: loginUntouched,
  },
  {
    id: '17i',
    name: 'login to [::1]:<port>',
    request: (env) => json('/v1.41/auth', { username: 'u', password: 'p', serveraddress: `[::1]:${env.assets.fetches.port}` }),
    executed: async (t, env, res) => {
      t.match(res.body, `https://[::1]:${env.assets.fetches.port}/v2/`, 'the daemon dialled the service on the IPv6 loopback');
      t.match(res.body, 'server gave HTTP response to HTTPS client', 'and read its answer');
    },
    refusal: /^denied by rule registries: .* the IPv6 loopback address/,
  },
  {
    id: '17j',
    name: 'search a registry on the loopback address: GET /images/search?term=127.0.0.1:<port>/<token>',
    request: (env) => ({
      method: 'GET',
      target: `/v1.41/images/search?term=${encodeURIComponent(`127.0.0.1:${env.assets.fetches.port}/${env.token}`)}`,
    }),
    executed: registryReached((env) => `/v1/search?q=${env.token}`),
    refusal: /^denied by rule registries: docker search \(term\)/,
    untouched: registryUntouched((env) => `q=${env.token}`),
  },
  {
    id: '17k',
    name: 'plugin install from a registry on the loopback address: POST /plugins/pull?remote=127.0.0.1:<port>/<token>/p',
    request: (env) =>
      json(`/v1.41/plugins/pull?remote=${encodeURIComponent(`127.0.0.1:${env.assets.fetches.port}/${env.token}/p:latest`)}`, []),
    executed: registryReached((env) => `/v2/${env.token}/p/manifests/`),
    refusal: /^denied by rule registries: docker plugin install \(remote\)/,
    untouched: registryUntouched((env) => `/v2/${env.token}/`),
  },
];

bypassSuite('networks and registries', CASES, async (t, { guarded, plugin, only }) => {
  await t.test('everyday forms of the same operations stay allowed', async (t) => {
    if (only && !only.includes('everyday')) return;
    const docker = async (args: string[]) => {
      const r = await guarded.docker(args);
      t.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await docker(['network', 'create', 'everyday-net']);
    const compose = await sendRaw(
      guarded.socket,
      rawRequest(
        json('/v1.41/networks/create', {
          Name: 'proj_default',
          Driver: '',
          CheckDuplicate: true,
          Internal: false,
          Attachable: false,
          EnableIPv6: false,
          Labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': 'proj', 'com.docker.compose.version': '2.29.1' },
        }),
      ),
    );
    t.equal(compose.status, 201, `a compose project's default network: ${describe(compose)}`);
    const id = await docker(['create', '--network', 'proj_default', B, 'true']);
    await docker(['network', 'connect', 'everyday-net', id]);
    await docker(['network', 'disconnect', 'everyday-net', id]);
    await docker([
      'run',
      '--rm',
      '--security-opt',
      'no-new-privileges=true',
      '--ulimit',
      'nofile=1024:2048',
      '--pids-limit',
      '100',
      '--oom-score-adj',
      '100',
      B,
      'true',
    ]);
    await docker(['rm', '-f', id]);
    await docker(['network', 'rm', 'everyday-net', 'proj_default']);

    // Nothing can be pulled here (no network): the plugin must have let the daemon try.
    for (const ref of [
      'busybox',
      'alpine:3.20',
      'library/debian:stable',
      'docker.io/library/nginx',
      'ghcr.io/someone/app:1',
      'quay.io/org/tool',
      'mcr.microsoft.com/dotnet/runtime',
    ]) {
      const mark = plugin.lines().length;
      const res = await sendRaw(guarded.socket, rawRequest(pull(ref)), { timeoutMs: 60_000 });
      t.notMatch(res.body, 'authorization denied', `docker pull ${ref} reached the daemon: ${describe(res)}`);
      const decision = await plugin.waitForLine(
        (r: { msg?: string; op?: string; allow?: boolean }) => r.msg === 'decision' && r.op === 'image.create',
        10_000,
        mark,
      );
      t.equal(decision.allow, true, `the plugin allowed the pull of ${ref}`);
    }
    const login = await sendRaw(
      guarded.socket,
      rawRequest(json('/v1.41/auth', { username: 'u', password: 'p', serveraddress: 'registry.example.com' })),
    );
    t.notMatch(login.body, 'authorization denied', `docker login registry.example.com reached the daemon: ${describe(login)}`);
  });
});
