/**
 * Bypass suite on a real dockerd 20.10: requests spelled so that a plugin reading the raw
 * AuthZReq might judge something other than what the daemon does. Every case is written as exact
 * bytes on the daemon's socket (helpers/raw.ts), twice:
 *
 *   1. to a daemon WITHOUT the plugin, which must really execute it: the proof is what the daemon
 *      did (a privileged container in its inspect output, a bind in Mounts, a volume's bind
 *      options, a capability in the process's CapEff, a URL the daemon fetched, a build step in the
 *      host's network namespace), not a 2xx status;
 *   2. to a daemon WITH the real plugin (default policy, after `docker run hello-world`), which
 *      must answer 403 `authorization denied by plugin <name>: denied by rule <id>` and create
 *      nothing.
 *
 * A spelling the daemon does not execute stays in the table with `route: false`: the first half
 * then asserts the daemon's refusal, so the claim "not a route" is checked too.
 *
 * Adding a case is one entry in CASES. After each half, the daemon is put back to its baseline
 * (containers, volumes, images), and it is checked that it really got there.
 *
 * Cases 1-13 follow the bypass list of the issue (14, a retry with an empty body, cannot be sent
 * through the daemon); 2b/2c, 6c/6d, 9c-9e and 15 are further spellings found while writing it.
 * Cases 16-20 are the second round of side doors: networks (16), registries on the host (17), URLs
 * a Dockerfile fetches (18, a known limit), option values read as the daemon reads them (19) and
 * host resources (20). The everyday forms of the same operations are checked to stay allowed.
 * Both daemons run with no-new-privileges set daemon-wide, as an admin may set it.
 * Machines whose capability bounding set is smaller than Docker's "all" cannot start a privileged
 * container; there, runc's refusal to apply the capabilities is the proof (see CAPS_BEYOND_HOST).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { BUSYBOX_IMAGE, importImages, tarDir } from './helpers/images.js';
import { pluginSocketPath, uniquePluginName } from './helpers/plugin.js';
import { rawRequest, sendRaw, type HeaderList, type RawRequestSpec, type RawResponse } from './helpers/raw.js';

const B = BUSYBOX_IMAGE;
const NEVER_STARTED = '0001-01-01T00:00:00Z';
const CAP_SYS_ADMIN = 21n;
const JSON_TYPE: HeaderList = [['Content-Type', 'application/json']];
const FORM_TYPE = 'application/x-www-form-urlencoded';

// ---------------------------------------------------------------------------------------------
// what a case gets to work with

/** Made by a case's setup on one daemon, e.g. the container a start or an exec is aimed at. */
interface Fixture {
  id?: string;
  /** A network made by the setup. */
  network?: string;
}

/** Shared by all cases: a build context and a recorder for URLs the daemon fetches. */
interface Assets {
  /** tar of a Dockerfile whose RUN step prints the network namespace it runs in. */
  netnsContext: Buffer;
  /** tar of a Dockerfile whose RUN step prints its real-time priority limit. */
  limitsContext: Buffer;
  fetches: FetchRecorder;
  /** A host interface (one end of a veth pair made for this run) to hang macvlan networks on. */
  hostInterface: string;
  /** Random per run: names host interfaces and subnets so that runs do not collide. */
  salt: string;
}

/** Given to a case's setup: runs `fn` as if the plugin were not installed yet (an admin's doing, or older objects). */
type WithoutPlugin = <T>(fn: () => Promise<T>) => Promise<T>;

interface Env {
  d: Dockerd;
  fx: Fixture;
  /** Unique per case and daemon (names the URL a fetch case asks for). */
  token: string;
  assets: Assets;
}

interface BypassCase {
  id: string;
  name: string;
  /** Printed as a comment: why the daemon reads it this way, or what is special about it. */
  note?: string;
  /** false: dockerd 20.10 does NOT execute this request; kept to document it (and checked). */
  route?: false;
  setup?: (d: Dockerd, env: { assets: Assets; token: string; withoutPlugin: WithoutPlugin }) => Promise<Fixture>;
  request: (env: Env) => RawRequestSpec;
  /** On the daemon without the plugin: assert what the daemon did. */
  executed: (t: Test, env: Env, res: RawResponse) => Promise<void>;
  /** Matched against the denial text after `authorization denied by plugin <name>: `. */
  refusal: RegExp;
  /** On the daemon with the plugin: checks beyond "no container, volume or image appeared". */
  untouched?: (t: Test, env: Env) => Promise<void>;
  /**
   * A route the plugin cannot see through the daemon's authorization API, documented in
   * docs/routes.md ("Known limits"): the route is still proven, the plugin half is not run.
   */
  knownLimit?: string;
}

// ---------------------------------------------------------------------------------------------
// daemon helpers (inspection goes through node:http; only the attack requests are raw)

const execFileP = promisify(execFile);
const run = async (cmd: string, args: string[]): Promise<string> => (await execFileP(cmd, args)).stdout;

async function api<T = unknown>(d: Dockerd, method: string, path: string, body?: unknown): Promise<T> {
  const res = await d.request(
    method,
    path,
    body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) },
  );
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
  return (res.body.trim() === '' ? undefined : JSON.parse(res.body)) as T;
}

interface ContainerInspect {
  Id: string;
  HostConfig: { Privileged?: boolean; Binds?: string[] | null; CapAdd?: string[] | null; OomScoreAdj?: number };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string }[];
  State: { Running: boolean; StartedAt: string };
  ExecIDs: string[] | null;
}

interface VolumeInspect {
  Name: string;
  Driver: string;
  Options: Record<string, string> | null;
}

const inspect = (d: Dockerd, id: string) => api<ContainerInspect>(d, 'GET', `/v1.41/containers/${id}/json`);

function messageOf(res: RawResponse): string {
  try {
    const m = (JSON.parse(res.body) as { message?: unknown }).message;
    return typeof m === 'string' ? m : res.body;
  } catch {
    return res.body;
  }
}

const describe = (res: RawResponse) => `${res.status} ${res.body.slice(0, 400)}`;

/** The container a create answered with, or undefined (after a failed assertion). */
async function createdContainer(t: Test, d: Dockerd, res: RawResponse): Promise<ContainerInspect | undefined> {
  if (!t.equal(res.status, 201, `the daemon created a container: ${describe(res)}`)) return undefined;
  return inspect(d, (JSON.parse(res.body) as { Id: string }).Id);
}

/** A container from a plain create (allowed with the plugin too); started when `running`. */
async function plainContainer(d: Dockerd, cmd: string[], running = false): Promise<Fixture> {
  const { Id } = await api<{ Id: string }>(d, 'POST', '/v1.41/containers/create', { Image: B, Cmd: cmd });
  if (running) await api(d, 'POST', `/v1.41/containers/${Id}/start`);
  return { id: Id };
}

function hasBind(c: ContainerInspect, source: string, destination: string): boolean {
  return c.Mounts.some((m) => m.Type === 'bind' && m.Source === source && m.Destination === destination);
}

/**
 * runc's answer when a container asks for a capability outside the machine's bounding set. Some
 * test machines lack one (e.g. CAP_SYS_RESOURCE in an unprivileged CI container), so a privileged
 * or cap-add-ALL container cannot start there; a default container can. The daemon DID ask for the
 * capabilities: that is what this error proves, and the test accepts it as proof on such hosts.
 */
const CAPS_BEYOND_HOST = /unable to apply caps: operation not permitted/;

/** Starts the container (its command prints /proc/self/status), waits for it and returns CapEff. */
async function effectiveCaps(t: Test, d: Dockerd, id: string): Promise<bigint | 'beyond-host' | undefined> {
  const started = await d.request('POST', `/v1.41/containers/${id}/start`);
  if (started.status === 500 && CAPS_BEYOND_HOST.test(started.body)) return 'beyond-host';
  if (!t.equal(started.status, 204, `the container starts: ${started.body}`)) return undefined;
  await api(d, 'POST', `/v1.41/containers/${id}/wait`);
  const logs = await d.request('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`);
  const m = /CapEff:\s*([0-9a-f]+)/.exec(logs.body);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

const beyondHostComment = (t: Test, what: string) =>
  t.comment(`this machine's bounding set cannot grant ${what}; runc's "unable to apply caps" shows the daemon asked for it`);

/** The network namespace a build's RUN step printed (`ls -l /proc/self/ns/net`). */
function netnsOfBuild(res: RawResponse): string | undefined {
  return /net:\[\d+\]/.exec(res.body)?.[0];
}

/** The network namespace the RUN step of the build tagged `image` recorded in /netns. */
async function netnsOfImage(d: Dockerd, image: string): Promise<string | undefined> {
  const { Id } = await api<{ Id: string }>(d, 'POST', '/v1.41/containers/create', { Image: image, Cmd: ['cat', '/netns'] });
  await api(d, 'POST', `/v1.41/containers/${Id}/start`);
  await api(d, 'POST', `/v1.41/containers/${Id}/wait`);
  const logs = await d.request('GET', `/v1.41/containers/${Id}/logs?stdout=1`);
  return /net:\[\d+\]/.exec(logs.body)?.[0];
}

// ---------------------------------------------------------------------------------------------
// baseline: what each daemon holds between cases

interface Snapshot {
  containers: string[];
  volumes: string[];
  images: string[];
  networks: string[];
}

async function snapshot(d: Dockerd): Promise<Snapshot> {
  const containers = await api<{ Id: string }[]>(d, 'GET', '/v1.41/containers/json?all=1');
  const volumes = await api<{ Volumes: { Name: string }[] | null }>(d, 'GET', '/v1.41/volumes');
  const images = await api<{ Id: string }[]>(d, 'GET', '/v1.41/images/json?all=1');
  const networks = await api<{ Id: string }[]>(d, 'GET', '/v1.41/networks');
  return {
    containers: containers.map((c) => c.Id).sort(),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name).sort(),
    images: images.map((i) => i.Id).sort(),
    networks: networks.map((n) => n.Id).sort(),
  };
}

/** Removes whatever is not in `base` and checks that the daemon is back at it. */
async function restore(d: Dockerd, base: Snapshot): Promise<void> {
  const extra = (now: string[], was: string[]) => now.filter((x) => !was.includes(x));
  for (let pass = 0; pass < 3; pass++) {
    const now = await snapshot(d);
    const containers = extra(now.containers, base.containers);
    const volumes = extra(now.volumes, base.volumes);
    const images = extra(now.images, base.images);
    const networks = extra(now.networks, base.networks);
    if (containers.length + volumes.length + images.length + networks.length === 0) return;
    // 404/409 are expected here (an image already pruned with its child, a parent still in use).
    for (const id of containers) await d.request('DELETE', `/v1.41/containers/${id}?force=1&v=1`);
    for (const name of volumes) await d.request('DELETE', `/v1.41/volumes/${name}?force=1`);
    for (const id of images) await d.request('DELETE', `/v1.41/images/${id}?force=1`);
    for (const id of networks) await d.request('DELETE', `/v1.41/networks/${id}`);
  }
  const left = await snapshot(d);
  if (JSON.stringify(left) !== JSON.stringify(base)) {
    throw new Error(`could not restore the daemon's baseline: ${JSON.stringify({ base, left })}`);
  }
}

// ---------------------------------------------------------------------------------------------
// a local HTTP server: proves that the daemon fetched a URL named in a request

interface FetchRecorder {
  /** Where it listens, on 127.0.0.1 and [::1]: a registry (or any service) on this host. */
  readonly port: number;
  /** A URL that answers 404. */
  url(token: string): string;
  /** A URL that serves the netns build context (a tar). */
  contextUrl(token: string): string;
  /** A URL that serves a "secret" (200). */
  secretUrl(token: string): string;
  fetched(token: string): boolean;
  /** Requests whose path contains `part`, optionally only those after `mark()`. */
  hits(part: string, since?: number): string[];
  mark(): number;
  close(): Promise<void>;
}

async function startFetchRecorder(context: Buffer): Promise<FetchRecorder> {
  const paths: string[] = [];
  const handler: http.RequestListener = (req, res) => {
    const path = req.url ?? '';
    paths.push(`${req.method} ${path}`);
    if (path.endsWith('.ctx.tar')) {
      res.setHeader('Content-Type', 'application/x-tar');
      res.end(context);
    } else if (path.endsWith('.secret')) {
      res.end('a secret served only on the host\n');
    } else {
      res.statusCode = 404;
      res.end('not here');
    }
  };
  const v4 = http.createServer(handler);
  const v6 = http.createServer(handler);
  // One port on both loopback addresses (retry when ::1 has it taken).
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
    port = (v4.address() as AddressInfo).port;
    const ok = await new Promise<boolean>((resolve) => {
      v6.once('error', () => resolve(false));
      v6.listen(port, '::1', () => resolve(true));
    });
    if (ok) break;
    await new Promise<void>((resolve) => v4.close(() => resolve()));
    if (attempt === 10) throw new Error('no port free on both 127.0.0.1 and ::1');
  }
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    url: (token) => `${base}/${token}.tar`,
    contextUrl: (token) => `${base}/${token}.ctx.tar`,
    secretUrl: (token) => `${base}/${token}.secret`,
    fetched: (token) => paths.some((p) => p.split(' ')[1]!.startsWith(`/${token}.`)),
    hits: (part, since = 0) => paths.slice(since).filter((p) => p.includes(part)),
    mark: () => paths.length,
    close: async () => {
      await new Promise((resolve) => v4.close(() => resolve(undefined)));
      await new Promise((resolve) => v6.close(() => resolve(undefined)));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// proofs shared by several cases

const json = (target: string, body: unknown, extra: Partial<RawRequestSpec> = {}): RawRequestSpec => ({
  method: 'POST',
  target,
  headers: JSON_TYPE,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  ...extra,
});

async function privilegedContainer(t: Test, env: Env, res: RawResponse): Promise<void> {
  const c = await createdContainer(t, env.d, res);
  if (c) t.equal(c.HostConfig.Privileged, true, 'the daemon created a PRIVILEGED container');
}

const hostBind =
  (source: string, destination: string) =>
  async (t: Test, env: Env, res: RawResponse): Promise<void> => {
    const c = await createdContainer(t, env.d, res);
    if (c) t.ok(hasBind(c, source, destination), `the container bind-mounts host ${source} at ${destination}: ${JSON.stringify(c.Mounts)}`);
  };

const withCapSysAdmin = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  const c = await createdContainer(t, env.d, res);
  if (!c) return;
  const caps = await effectiveCaps(t, env.d, c.Id);
  if (caps === 'beyond-host') beyondHostComment(t, `CapAdd ${JSON.stringify(c.HostConfig.CapAdd)}`);
  const granted = caps === 'beyond-host' || (caps !== undefined && ((caps >> CAP_SYS_ADMIN) & 1n) === 1n);
  t.ok(granted, `the container's process runs with CAP_SYS_ADMIN (CapEff ${typeof caps === 'bigint' ? caps.toString(16) : caps})`);
};

/** Legacy (API < 1.24) start with a HostConfig body: the daemon replaces the container's HostConfig. */
const startedWith =
  (check: (c: ContainerInspect) => boolean, what: string) =>
  async (t: Test, env: Env, res: RawResponse): Promise<void> => {
    const c = await inspect(env.d, env.fx.id!);
    if (res.status === 500 && CAPS_BEYOND_HOST.test(res.body)) {
      beyondHostComment(t, `${what} (the capabilities it implies)`);
    } else {
      if (!t.equal(res.status, 204, `the daemon started the container: ${describe(res)}`)) return;
      t.not(c.State.StartedAt, NEVER_STARTED, 'the container was started');
    }
    t.ok(check(c), `${what}: ${JSON.stringify({ HostConfig: c.HostConfig, Mounts: c.Mounts })}`);
  };

const neverStarted = async (t: Test, env: Env): Promise<void> => {
  const c = await inspect(env.d, env.fx.id!);
  t.equal(c.State.StartedAt, NEVER_STARTED, 'the container was not started');
  t.not(c.HostConfig.Privileged, true, 'and is not privileged');
  t.same(c.HostConfig.Binds ?? [], [], 'and has no binds');
};

/** images/create with a form body: the daemon imports from the URL in the body, i.e. fetches it. */
const formImport =
  (contentTypes: string[]) =>
  (env: Env): RawRequestSpec => ({
    method: 'POST',
    target: '/v1.41/images/create',
    headers: contentTypes.map((v) => ['Content-Type', v] as const),
    body: new URLSearchParams({ fromSrc: env.assets.fetches.url(env.token), repo: 'e2e/formproof' }).toString(),
  });

const fetchedUrl = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  t.ok(
    env.assets.fetches.fetched(env.token),
    `the daemon fetched ${env.assets.fetches.url(env.token)}, named only in the body (${describe(res)})`,
  );
  t.match(messageOf(res), `failed to GET ${env.assets.fetches.url(env.token)}`, 'and reports that URL');
};

const notFetched = async (t: Test, env: Env): Promise<void> => {
  t.notOk(env.assets.fetches.fetched(env.token), 'the daemon fetched nothing');
};

/** A classic build whose RUN step runs in the daemon's (the host's) network namespace. */
const hostNetworkBuild = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  const hostNetns = readlinkSync(`/proc/${env.d.pid}/ns/net`);
  t.equal(res.status, 200, 'the build ran');
  t.equal(netnsOfBuild(res), hostNetns, `the RUN step ran in the host's network namespace ${hostNetns}: ${res.body.slice(-600)}`);
};

const buildRequest =
  (query: string) =>
  (env: Env): RawRequestSpec => ({
    method: 'POST',
    target: `/v1.41/build?${query}&nocache=1&rm=1&forcerm=1`,
    headers: [['Content-Type', 'application/x-tar']],
    body: env.assets.netnsContext,
  });

const MOUNT_LOCAL_BIND_ROOT = {
  Type: 'volume',
  Source: 'hostroot2',
  Target: '/h',
  VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } },
};

const privileged = /^denied by rule no-privileged: --privileged \(HostConfig\.Privileged\)/;
const ambiguous = (what: RegExp) => new RegExp(`^denied by rule request-integrity: .*${what.source}`);
const hidden = /^denied by rule request-integrity: the daemon did not show the container\.create request body/;
const big = (hostConfig: unknown) => JSON.stringify({ Image: B, Labels: { pad: 'x'.repeat(1_100_000) }, HostConfig: hostConfig });

// ---- helpers of the second-round cases

const CAP_SYS_RESOURCE = 24n;

/** Whether this machine's bounding set has the capability (some CI sandboxes lack CAP_SYS_RESOURCE). */
function hasCapability(bit: bigint): boolean {
  const m = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m !== null && ((BigInt(`0x${m[1]}`) >> bit) & 1n) === 1n;
}

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

/** A build context whose Dockerfile ADDs a URL only the host can reach and prints it. */
function addFetchContext(env: Env): Buffer {
  const dockerfile = `FROM ${B}\nADD ${env.assets.fetches.secretUrl(env.token)} /secret\nRUN cat /secret\n`;
  return tarOf({ Dockerfile: dockerfile });
}

/** A minimal ustar archive of regular files. */
function tarOf(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Starts a created container, waits for it and returns what it printed. */
async function startAndRead(t: Test, d: Dockerd, id: string): Promise<string> {
  const started = await d.request('POST', `/v1.41/containers/${id}/start`);
  if (!t.equal(started.status, 204, `the container starts: ${started.body}`)) return '';
  await api(d, 'POST', `/v1.41/containers/${id}/wait`);
  return (await d.request('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`)).body;
}

// ---------------------------------------------------------------------------------------------
// the cases

const CASES: BypassCase[] = [
  {
    id: '1',
    name: 'percent-encoded path: POST /v1.41/%63ontainers/create, Privileged',
    note: "the router matches the decoded path; RequestUri keeps '%63'",
    request: () => json('/v1.41/%63ontainers/create', { Image: B, HostConfig: { Privileged: true } }),
    executed: privilegedContainer,
    refusal: privileged,
  },
  {
    id: '2a',
    name: 'absolute-form target: POST http://x/v1.41/containers/create, Binds /:/host',
    request: () => json('http://x/v1.41/containers/create', { Image: B, HostConfig: { Binds: ['/:/host'] } }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/:\/host \(HostConfig\.Binds\[0\]\)/,
  },
  {
    id: '2b',
    name: 'absolute-form target with an empty authority: POST http:///v1.41/containers/create, Privileged',
    note: 'Go takes the path after the empty authority; a WHATWG URL parser would take "v1.41" as the host',
    request: () => json('http:///v1.41/containers/create', { Image: B, HostConfig: { Privileged: true } }),
    executed: privilegedContainer,
    refusal: /^denied by rule (request-integrity|no-privileged): /,
  },
  {
    id: '2c',
    name: 'absolute-form target without authority: POST http:/v1.23/containers/{id}/start, {"Privileged":true}',
    note: 'Go reads "http:/v1.23/..." as the path /v1.23/...; a WHATWG URL parser would take "v1.23" as the host',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`http:/v1.23/containers/${fx.id}/start`, { Privileged: true }),
    executed: startedWith((c) => c.HostConfig.Privileged === true, 'the start made the container privileged'),
    refusal: /^denied by rule (request-integrity|api-version|no-privileged): /,
    untouched: neverStarted,
  },
  {
    id: '3',
    name: 'lower-case keys: {"image":..,"hostconfig":{"privileged":true}}',
    note: 'encoding/json matches keys case-insensitively',
    request: () => json('/v1.41/containers/create', `{"image":"${B}","hostconfig":{"privileged":true}}`),
    executed: privilegedContainer,
    refusal: privileged,
  },
  {
    id: '4',
    name: 'Unicode case folding: key "HoſtConfig" (U+017F) with Privileged true',
    note: 'Go 1.19 folds U+017F onto "s" when matching keys',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","Ho\u017ftConfig":{"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/Unicode case folding/),
  },
  {
    id: '5a',
    name: 'duplicate key, merged: {"HostConfig":{"Privileged":false},"HostConfig":{"Privileged":true}}',
    note: 'the second HostConfig is decoded into the same struct: Privileged ends up true',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":false},"HostConfig":{"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/HostConfig is given twice/),
  },
  {
    id: '5b',
    name: 'duplicate key, last wins: {"HostConfig":{"Privileged":false,"Privileged":true}}',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":false,"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/HostConfig\.Privileged is given twice/),
  },
  {
    id: '5c',
    name: 'duplicate key, last wins the other way: {"HostConfig":{"Privileged":true,"Privileged":false}}',
    note: 'harmless on 20.10 (the later false wins, the container is NOT privileged); refused as ambiguous all the same',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":true,"Privileged":false}}`),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (c) t.equal(c.HostConfig.Privileged, false, 'the daemon kept the LAST value: not privileged');
    },
    refusal: ambiguous(/HostConfig\.Privileged is given twice/),
  },
  {
    id: '6a',
    name: 'legacy top-level HostConfig fields: POST /v1.23/containers/create {"Binds":["/:/host"]}',
    note: 'ContainerConfigWrapper embeds HostConfig, so its fields are read from the top level too',
    request: () => json('/v1.23/containers/create', { Image: B, Binds: ['/:/host'] }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule (host-paths: -v \/:\/host \(Binds\[0\]\)|api-version: API version 1\.23)/,
  },
  {
    id: '6b',
    name: 'legacy top-level HostConfig fields: POST /v1.23/containers/create {"Privileged":true}',
    request: () => json('/v1.23/containers/create', { Image: B, Privileged: true }),
    executed: privilegedContainer,
    refusal: /^denied by rule (no-privileged: --privileged \(Privileged\)|api-version: API version 1\.23)/,
  },
  {
    id: '6c',
    name: 'top-level HostConfig fields on the current API: POST /v1.41/containers/create {"Privileged":true}',
    note: 'dockerd 20.10 does not tie the embedded HostConfig to old API versions',
    request: () => json('/v1.41/containers/create', { Image: B, Privileged: true }),
    executed: privilegedContainer,
    refusal: /^denied by rule no-privileged: --privileged \(Privileged\)/,
  },
  {
    id: '6d',
    name: 'top-level HostConfig fields on the current API: POST /v1.41/containers/create {"Binds":["/:/host"]}',
    request: () => json('/v1.41/containers/create', { Image: B, Binds: ['/:/host'] }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/:\/host \(Binds\[0\]\)/,
  },
  {
    id: '7a',
    name: 'HostConfig on start (API < 1.24): POST /v1.23/containers/{id}/start {"Privileged":true}',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`/v1.23/containers/${fx.id}/start`, { Privileged: true }),
    executed: startedWith((c) => c.HostConfig.Privileged === true, 'the start made the container privileged'),
    refusal: /^denied by rule (no-privileged: --privileged \(Privileged\)|api-version: API version 1\.23)/,
    untouched: neverStarted,
  },
  {
    id: '7b',
    name: 'HostConfig on start (API < 1.24): POST /v1.23/containers/{id}/start {"Binds":["/:/host"]}',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`/v1.23/containers/${fx.id}/start`, { Binds: ['/:/host'] }),
    executed: startedWith((c) => hasBind(c, '/', '/host'), 'the start bind-mounted host / at /host'),
    refusal: /^denied by rule (host-paths: -v \/:\/host \(Binds\[0\]\)|api-version: API version 1\.23)/,
    untouched: neverStarted,
  },
  {
    id: '8a',
    name: 'oversized body (1.1 MB, Content-Length): privileged create',
    note: 'the daemon forwards no body of 1 MiB or more to the plugin, and executes it',
    request: () => json('/v1.41/containers/create', big({ Privileged: true })),
    executed: privilegedContainer,
    refusal: hidden,
  },
  {
    id: '8b',
    name: 'oversized body (1.1 MB, chunked): privileged create',
    request: () => json('/v1.41/containers/create', big({ Privileged: true }), { framing: 'chunked' }),
    executed: privilegedContainer,
    refusal: hidden,
  },
  {
    id: '9a',
    name: 'non-JSON content type: Content-Type text/plain on containers/create',
    note: 'NOT a route: containers/create calls CheckForJSON and answers 400 before reading the body',
    route: false,
    request: () => ({
      ...json('/v1.41/containers/create', { Image: B, HostConfig: { Privileged: true } }),
      headers: [['Content-Type', 'text/plain']],
    }),
    executed: async (t, _env, res) => {
      t.equal(res.status, 400, `the daemon refuses it: ${describe(res)}`);
      t.match(messageOf(res), "Content-Type specified (text/plain) must be 'application/json'");
    },
    refusal: hidden,
  },
  {
    id: '9b',
    name: 'form-encoded body on images/create: fromSrc=<url> in an application/x-www-form-urlencoded body',
    note: 'r.ParseForm reads form bodies; the plugin never sees them (not JSON)',
    request: formImport([FORM_TYPE]),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: form-encoded request bodies/,
    untouched: notFetched,
  },
  {
    id: '9c',
    name: 'form body behind a Unicode content type: Content-Type applİcation/x-www-form-urlencoded (U+0130)',
    note: "Go's mime.ParseMediaType lower-cases with strings.ToLower, which maps U+0130 to 'i'",
    request: formImport([FORM_TYPE.replace('i', '\u0130')]),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: /,
    untouched: notFetched,
  },
  {
    id: '9d',
    name: 'form body behind a repeated header: Content-Type form, then Content-Type application/json',
    note: "Go's r.Header.Get uses the FIRST value; the daemon forwards only the LAST one in RequestHeaders",
    request: formImport([FORM_TYPE, 'application/json']),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: /,
    untouched: notFetched,
  },
  {
    id: '9e',
    name: 'form body on a build behind a repeated header: Content-Type form, then application/x-tar',
    note:
      "the build handler's r.FormValue parses the body as a form (first Content-Type) once the handler has " +
      'peeked its first 4 KiB as the context; the plugin sees only "application/x-tar", normal for a build',
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/build',
      headers: [
        ['Content-Type', FORM_TYPE],
        ['Content-Type', 'application/x-tar'],
      ],
      body: `pad=${'x'.repeat(16 * 1024)}&${new URLSearchParams({ remote: env.assets.fetches.contextUrl(env.token), networkmode: 'host', nocache: '1', t: 'e2e/formbuild' })}`,
    }),
    executed: async (t, env, res) => {
      t.ok(env.assets.fetches.fetched(env.token), `the daemon fetched the remote build context named only in the body (${describe(res)})`);
      // Without the authz middleware this handler loses its output (it waits for the body's EOF), so
      // the RUN step's record is read back from the image the build tagged.
      const hostNetns = readlinkSync(`/proc/${env.d.pid}/ns/net`);
      t.equal(await netnsOfImage(env.d, 'e2e/formbuild'), hostNetns, `the RUN step ran in the host's network namespace ${hostNetns}`);
    },
    refusal: /^denied by rule /,
    untouched: notFetched,
    knownLimit:
      'the daemon forwards only the last of repeated headers; the plugin is shown "application/x-tar" with no body, ' +
      'exactly what every build sends, while the handler reads the form. See docs/routes.md, Known limits.',
  },
  {
    id: '9f',
    name: 'form body behind a repeated header on a pull: ?fromImage=hello-world, Content-Type form then text/plain',
    note: "r.Form puts body values first: the daemon imports fromSrc from the body instead of pulling the query's image",
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/images/create?fromImage=hello-world&tag=latest',
      headers: [
        ['Content-Type', FORM_TYPE],
        ['Content-Type', 'text/plain'],
      ],
      body: new URLSearchParams({ fromImage: '', fromSrc: env.assets.fetches.url(env.token), repo: 'e2e/formproof' }).toString(),
    }),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: an image pull must not carry a body/,
    untouched: notFetched,
  },
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
  {
    id: '15a',
    name: 'build with a decoy query pair: POST /v1.41/build?networkmode=%zz&networkmode=host',
    note: "the build handler reads r.FormValue, which drops a pair Go cannot unescape ('%zz') and ignores the error",
    request: buildRequest('networkmode=%zz&networkmode=host'),
    executed: async (t, env, res) => {
      await hostNetworkBuild(t, env, res);
      // Control: the same build without networkmode runs elsewhere, so the proof above means something.
      const plain = await sendRaw(env.d.socket, rawRequest(buildRequest('t=e2e/control')(env)));
      t.not(netnsOfBuild(plain), readlinkSync(`/proc/${env.d.pid}/ns/net`), 'a default build step runs in another network namespace');
    },
    refusal: /^denied by rule (host-namespaces|request-integrity): /,
  },
  {
    id: '15b',
    name: 'build with a decoy query pair: POST /v1.41/build?networkmode=x;y&networkmode=host',
    note: "Go drops a query pair containing ';' (and r.FormValue ignores the error)",
    request: buildRequest('networkmode=x;y&networkmode=host'),
    executed: hostNetworkBuild,
    refusal: /^denied by rule (host-namespaces|request-integrity): /,
  },
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
  // ---- builds fetch URLs the plugin cannot see
  {
    id: '18',
    name: 'build whose Dockerfile fetches a URL on the host: ADD http://127.0.0.1:<port>/<token>.secret',
    note: 'the Dockerfile is inside the build context, a tar the daemon never shows to plugins',
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/build?t=e2e/addfetch&nocache=1&rm=1&forcerm=1',
      headers: [['Content-Type', 'application/x-tar']],
      body: addFetchContext(env),
    }),
    executed: async (t, env, res) => {
      t.ok(env.assets.fetches.fetched(env.token), `the daemon fetched ${env.assets.fetches.secretUrl(env.token)} (${describe(res)})`);
      t.match(res.body, 'a secret served only on the host', 'and the build read what only the host could');
    },
    refusal: /^denied by rule /,
    knownLimit:
      'the build context (with its Dockerfile) is a tar the daemon never shows to authorization plugins; restrict image.build ' +
      'to trusted callers. See docs/routes.md, Known limits.',
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

// ---------------------------------------------------------------------------------------------

t.test('bypass attempts: executed by dockerd without the plugin, refused with it', async (t) => {
  t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start private dockerds)');
  const name = uniquePluginName();
  const scratch = await makeTempDir('authz-bypass-');
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const plugin = await spawnPlugin({ socket: pluginSocketPath(name), stateDir: join(scratch, 'state') });
  t.teardown(() => plugin.stop());

  const ctx = join(scratch, 'netns-context');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), `FROM ${B}\nRUN ls -l /proc/self/ns/net > /netns && cat /netns\n`);
  const netnsContext = await tarDir(ctx);
  const limitsCtx = join(scratch, 'limits-context');
  await mkdir(limitsCtx);
  await writeFile(join(limitsCtx, 'Dockerfile'), `FROM ${B}\nRUN grep "realtime priority" /proc/self/limits\n`);
  const limitsContext = await tarDir(limitsCtx);
  const fetches = await startFetchRecorder(netnsContext);
  t.teardown(() => fetches.close());
  // A host interface for macvlan networks: one end of a veth pair of our own, never a real NIC.
  const salt = randomBytes(3).toString('hex');
  const hostInterface = `az${salt}`;
  await run('ip', ['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', `${hostInterface}p`]);
  t.teardown(() => run('ip', ['link', 'del', hostInterface]).catch(() => undefined));
  const assets: Assets = { netnsContext, limitsContext, fetches, hostInterface, salt };

  // Both daemons confine containers with no-new-privileges, as an admin may set it daemon-wide.
  const config = { 'no-new-privileges': true };
  const started = await Promise.allSettled([startDockerd({ config }), startDockerd({ config })]);
  for (const s of started) if (s.status === 'fulfilled') t.teardown(() => s.value.stop());
  const [plain, guarded] = started.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  }) as [Dockerd, Dockerd];

  await Promise.all([importImages(plain), importImages(guarded)]);
  await guarded.setAuthzPlugins([name]);
  const hello = await guarded.docker(['run', '--rm', 'hello-world']);
  t.equal(hello.code, 0, `docker run hello-world opens the gate: ${hello.stderr}`);
  const base = { plain: await snapshot(plain), guarded: await snapshot(guarded) };

  // BYPASS_ONLY=16a,17b runs only those cases (while working on them).
  const only = process.env.BYPASS_ONLY?.split(',');
  for (const c of CASES.filter((c) => !only || only.includes(c.id))) {
    await t.test(`${c.id}. ${c.name}`, async (t) => {
      if (c.note) t.comment(c.note);
      if (c.route === false) t.comment(`NOT a route on dockerd 20.10: the daemon without the plugin refuses it too`);

      await t.test(c.route === false ? 'dockerd without the plugin refuses it' : 'dockerd without the plugin executes it', async (t) => {
        try {
          const token = `${c.id}-plain`;
          const fx = (await c.setup?.(plain, { assets, token, withoutPlugin: (fn) => fn() })) ?? {};
          const env: Env = { d: plain, fx, token, assets };
          const res = await sendRaw(plain.socket, rawRequest(c.request(env)));
          await c.executed(t, env, res);
        } finally {
          await restore(plain, base.plain);
        }
      });

      if (c.knownLimit) {
        t.comment(`KNOWN LIMIT, not refused: ${c.knownLimit}`);
        return;
      }
      await t.test('dockerd with the plugin refuses it and does nothing', async (t) => {
        try {
          const token = `${c.id}-guarded`;
          const withoutPlugin: WithoutPlugin = async (fn) => {
            await guarded.setAuthzPlugins([]);
            try {
              return await fn();
            } finally {
              await guarded.setAuthzPlugins([name]);
            }
          };
          const fx = (await c.setup?.(guarded, { assets, token, withoutPlugin })) ?? {};
          const env: Env = { d: guarded, fx, token, assets };
          const before = await snapshot(guarded);
          const spec = c.request(env);
          const logMark = plugin.lines().length;
          const res = await sendRaw(guarded.socket, rawRequest(spec));
          if (!t.equal(res.status, 403, `refused: ${describe(res)}`)) {
            // For the bug report: what the plugin decided (its decision log is written asynchronously).
            const decision = await plugin
              .waitForLine((r: { msg?: string; method?: string }) => r.msg === 'decision' && r.method === spec.method, 5_000, logMark)
              .catch(() => undefined);
            t.comment(`plugin decision: ${JSON.stringify(decision ?? 'none logged')}`);
          }
          const message = messageOf(res);
          const prefix = `authorization denied by plugin ${name}: `;
          t.ok(message.startsWith(prefix), `the plugin refused it: ${message}`);
          t.match(message.slice(prefix.length), c.refusal, 'for the expected rule');
          t.same(await snapshot(guarded), before, 'no container, volume, image or network appeared');
          await c.untouched?.(t, env);
        } finally {
          await restore(guarded, base.guarded);
        }
      });
    });
  }

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

  t.comment(
    '14. retry with an empty body: the daemon resends an AuthZReq with an empty body only when the plugin connection fails; a client cannot send it through the daemon (see test/integration/server.test.ts).',
  );
});
