/**
 * The bypass suite's harness, shared by test/e2e/bypass-*.test.ts. Each of those files is a table of
 * cases: requests spelled so that a plugin reading the raw AuthZReq might judge something other than
 * what the daemon does, on a real dockerd 20.10. Every case is written as exact bytes on the daemon's
 * socket (helpers/raw.ts), twice:
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
 * Adding a case is one entry in a file's table. After each half, the daemon is put back to its
 * baseline (containers, volumes, images, networks), and it is checked that it really got there.
 * Both daemons run with no-new-privileges set daemon-wide, as an admin may set it. Machines whose
 * capability bounding set is smaller than Docker's "all" cannot start a privileged container;
 * there, runc's refusal to apply the capabilities is the proof (see CAPS_BEYOND_HOST).
 *
 * BYPASS_ONLY=16a,17b runs only those cases (while working on them); `everyday` names a file's
 * extra test.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { spawnPlugin, type PluginProcess } from '../../helpers/spawn-plugin.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { startDockerd, type Dockerd } from './dockerd.js';
import { BUSYBOX_IMAGE, importImages, tarDir } from './images.js';
import { pluginSocketPath, uniquePluginName } from './plugin.js';
import { rawRequest, sendRaw, type HeaderList, type RawRequestSpec, type RawResponse } from './raw.js';

export const B = BUSYBOX_IMAGE;
export const NEVER_STARTED = '0001-01-01T00:00:00Z';
const JSON_TYPE: HeaderList = [['Content-Type', 'application/json']];
export const FORM_TYPE = 'application/x-www-form-urlencoded';

// ---------------------------------------------------------------------------------------------
// what a case gets to work with

/** Made by a case's setup on one daemon, e.g. the container a start or an exec is aimed at. */
export interface Fixture {
  id?: string;
  /** A network made by the setup. */
  network?: string;
}

/** Shared by all cases: a build context and a recorder for URLs the daemon fetches. */
export interface Assets {
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
export type WithoutPlugin = <T>(fn: () => Promise<T>) => Promise<T>;

export interface Env {
  d: Dockerd;
  fx: Fixture;
  /** Unique per case and daemon (names the URL a fetch case asks for). */
  token: string;
  assets: Assets;
}

export interface BypassCase {
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
/** Runs a command on the host; its stdout. */
export const run = async (cmd: string, args: string[]): Promise<string> => (await execFileP(cmd, args)).stdout;

export async function api<T = unknown>(d: Dockerd, method: string, path: string, body?: unknown): Promise<T> {
  const res = await d.request(
    method,
    path,
    body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) },
  );
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
  return (res.body.trim() === '' ? undefined : JSON.parse(res.body)) as T;
}

export interface ContainerInspect {
  Id: string;
  HostConfig: { Privileged?: boolean; Binds?: string[] | null; CapAdd?: string[] | null; OomScoreAdj?: number };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string }[];
  State: { Running: boolean; StartedAt: string };
  ExecIDs: string[] | null;
}

export interface VolumeInspect {
  Name: string;
  Driver: string;
  Options: Record<string, string> | null;
}

export const inspect = (d: Dockerd, id: string) => api<ContainerInspect>(d, 'GET', `/v1.41/containers/${id}/json`);

export function messageOf(res: RawResponse): string {
  try {
    const m = (JSON.parse(res.body) as { message?: unknown }).message;
    return typeof m === 'string' ? m : res.body;
  } catch {
    return res.body;
  }
}

export const describe = (res: RawResponse) => `${res.status} ${res.body.slice(0, 400)}`;

/** The container a create answered with, or undefined (after a failed assertion). */
export async function createdContainer(t: Test, d: Dockerd, res: RawResponse): Promise<ContainerInspect | undefined> {
  if (!t.equal(res.status, 201, `the daemon created a container: ${describe(res)}`)) return undefined;
  return inspect(d, (JSON.parse(res.body) as { Id: string }).Id);
}

/** A container from a plain create (allowed with the plugin too); started when `running`. */
export async function plainContainer(d: Dockerd, cmd: string[], running = false): Promise<Fixture> {
  const { Id } = await api<{ Id: string }>(d, 'POST', '/v1.41/containers/create', { Image: B, Cmd: cmd });
  if (running) await api(d, 'POST', `/v1.41/containers/${Id}/start`);
  return { id: Id };
}

export function hasBind(c: ContainerInspect, source: string, destination: string): boolean {
  return c.Mounts.some((m) => m.Type === 'bind' && m.Source === source && m.Destination === destination);
}

/**
 * runc's answer when a container asks for a capability outside the machine's bounding set. Some
 * test machines lack one (e.g. CAP_SYS_RESOURCE in an unprivileged CI container), so a privileged
 * or cap-add-ALL container cannot start there; a default container can. The daemon DID ask for the
 * capabilities: that is what this error proves, and the test accepts it as proof on such hosts.
 */
export const CAPS_BEYOND_HOST = /unable to apply caps: operation not permitted/;

/** Starts the container (its command prints /proc/self/status), waits for it and returns CapEff. */
export async function effectiveCaps(t: Test, d: Dockerd, id: string): Promise<bigint | 'beyond-host' | undefined> {
  const started = await d.request('POST', `/v1.41/containers/${id}/start`);
  if (started.status === 500 && CAPS_BEYOND_HOST.test(started.body)) return 'beyond-host';
  if (!t.equal(started.status, 204, `the container starts: ${started.body}`)) return undefined;
  await api(d, 'POST', `/v1.41/containers/${id}/wait`);
  const logs = await d.request('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`);
  const m = /CapEff:\s*([0-9a-f]+)/.exec(logs.body);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export const beyondHostComment = (t: Test, what: string) =>
  t.comment(`this machine's bounding set cannot grant ${what}; runc's "unable to apply caps" shows the daemon asked for it`);

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

export interface FetchRecorder {
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

export const json = (target: string, body: unknown, extra: Partial<RawRequestSpec> = {}): RawRequestSpec => ({
  method: 'POST',
  target,
  headers: JSON_TYPE,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  ...extra,
});

export async function privilegedContainer(t: Test, env: Env, res: RawResponse): Promise<void> {
  const c = await createdContainer(t, env.d, res);
  if (c) t.equal(c.HostConfig.Privileged, true, 'the daemon created a PRIVILEGED container');
}

export const hostBind =
  (source: string, destination: string) =>
  async (t: Test, env: Env, res: RawResponse): Promise<void> => {
    const c = await createdContainer(t, env.d, res);
    if (c) t.ok(hasBind(c, source, destination), `the container bind-mounts host ${source} at ${destination}: ${JSON.stringify(c.Mounts)}`);
  };

export const hidden = /^denied by rule request-integrity: the daemon did not show the container\.create request body/;

// ---------------------------------------------------------------------------------------------
// the suite

/** What a file's extra tests get: the daemon with the plugin, and the plugin. */
export interface Suite {
  guarded: Dockerd;
  plugin: PluginProcess;
  /** The cases named in BYPASS_ONLY, if it is set. */
  only: string[] | undefined;
}

/**
 * One tap test named `theme` that runs every case of `cases` on two daemons (one without the
 * plugin, one with it), then `extra` (e.g. the everyday forms that must stay allowed) on the
 * daemon with the plugin.
 */
export function bypassSuite(theme: string, cases: readonly BypassCase[], extra?: (t: Test, suite: Suite) => void | Promise<void>): void {
  t.test(`bypass attempts, ${theme}: executed by dockerd without the plugin, refused with it`, async (t) => {
    t.equal(process.getuid?.(), 0, 'end-to-end tests run as root (they start private dockerds)');
    const name = uniquePluginName();
    const scratch = await makeTempDir('authz-bypass-');
    t.teardown(() => rm(scratch, { recursive: true, force: true }));

    // The plugin and both daemons start at once, and stop at once. Both daemons confine containers
    // with no-new-privileges, as an admin may set it daemon-wide.
    const config = { 'no-new-privileges': true };
    const started = await Promise.allSettled([
      spawnPlugin({ socket: pluginSocketPath(name), stateDir: join(scratch, 'state') }),
      startDockerd({ config }),
      startDockerd({ config }),
    ]);
    t.teardown(async () => {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    });
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [plugin, plain, guarded] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [PluginProcess, Dockerd, Dockerd];
    const imported = Promise.all([importImages(plain), importImages(guarded)]);
    imported.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled

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

    await imported;
    await guarded.setAuthzPlugins([name]);
    const hello = await guarded.docker(['run', '--rm', 'hello-world']);
    t.equal(hello.code, 0, `docker run hello-world opens the gate: ${hello.stderr}`);
    const base = { plain: await snapshot(plain), guarded: await snapshot(guarded) };

    const only = process.env.BYPASS_ONLY?.split(',');
    for (const c of cases.filter((c) => !only || only.includes(c.id))) {
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

    await extra?.(t, { guarded, plugin, only });
  });
}
