/**
 * A throwaway dockerd for end-to-end tests.
 *
 * Every daemon gets its own short temp dir (`/tmp/dk-XXXXXX`) holding its
 * data-root, exec-root (containerd puts its sockets there, so the path must
 * stay short), API socket, pidfile and daemon.json. The daemon runs with the
 * vfs storage driver, no iptables and no default bridge, so it needs neither
 * kernel modules nor network access.
 *
 * The daemon MUST be stopped even when a test fails; register the teardown
 * right after starting it:
 *
 *     const d = await startDockerd({})
 *     t.teardown(() => d.stop())
 *
 * Authorization plugins are configured only through daemon.json
 * (`authorization-plugins`), never with the `--authorization-plugin` flag
 * (dockerd rejects a config file that repeats a key given as a flag, so the
 * flag would make the list impossible to reload). Enable a plugin after
 * importing images with `await d.setAuthzPlugins([name])`; that waits for the
 * daemon's `Reloaded configuration: {...}` log line.
 *
 * Caveat (dockerd 20.10): when a reload names a plugin whose socket does not
 * exist, dockerd retries for ~15s and then exits with a fatal error. Start
 * the plugin before calling setAuthzPlugins; it rejects when that happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerOptions {
  /** Written to the CLI's stdin, which is then closed (stdin is always closed). */
  input?: string | Buffer;
  /** Kill the CLI and reject after this long. Default 60s. */
  timeoutMs?: number;
  /** Extra environment for the CLI (e.g. DOCKER_API_VERSION). */
  env?: Record<string, string>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Reject after this long. Default 30s. */
  timeoutMs?: number;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface DockerdOptions {
  /** Names of authorization plugins to enable from the start (they must already be running). */
  authzPlugins?: string[];
  /** Extra daemon.json keys. */
  config?: Record<string, unknown>;
  /** Extra dockerd flags, e.g. a TLS tcp listener (`-H tcp://…`, `--tlsverify`, …). */
  extraArgs?: string[];
  /** How long to wait for the daemon to answer /_ping. Default 60s. */
  readyTimeoutMs?: number;
}

export interface Dockerd {
  /** Path of the daemon's API unix socket. */
  readonly socket: string;
  /** The daemon's private temp dir (removed by stop()). */
  readonly dir: string;
  /** Process id of dockerd. */
  readonly pid: number;
  /** Run the docker CLI against this daemon. Resolves on any exit code; rejects only on timeout/spawn failure. */
  docker(args: string[], opts?: DockerOptions): Promise<ExecResult>;
  /** Raw HTTP request over the daemon socket. Resolves on any HTTP status. */
  request(method: string, urlPath: string, opts?: RequestOptions): Promise<HttpResult>;
  /** Rewrite daemon.json with these authorization plugins, SIGHUP and wait until the reload is applied. */
  setAuthzPlugins(names: string[], timeoutMs?: number): Promise<void>;
  /** Everything the daemon has written to stdout/stderr so far. */
  log(): string;
  /** Exit status once the daemon has exited, otherwise undefined. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Stop the daemon (SIGTERM, then SIGKILL), kill leftovers, unmount and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// small utilities (exported for the other helpers)

/** Poll `cond` until it returns a value other than undefined/false, or throw after `timeoutMs`. */
export async function pollUntil<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; what: string; abort?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    const aborted = opts.abort?.();
    if (aborted !== undefined) throw new Error(`gave up waiting for ${opts.what}: ${aborted}`);
    if (Date.now() >= deadline) throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Create a temp dir under /tmp with a short prefix (keeps unix socket paths short). */
export function makeTempDir(prefix = 'e2e-'): Promise<string> {
  return mkdtemp(path.join('/tmp', prefix));
}

/** HTTP request over a unix socket. Resolves with any status; rejects on connection errors / timeout. */
export function unixRequest(socketPath: string, method: string, urlPath: string, opts: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: 'docker', ...opts.headers };
    if (opts.body !== undefined && !hasHeader(headers, 'content-length')) {
      headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    }
    const req = http.request({ socketPath, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => {
      req.destroy(new Error(`${method} ${urlPath} on ${socketPath} timed out`));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function hasHeader(h: Record<string, string>, name: string): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

/** Send a signal, ignoring "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitPromise(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

// Last resort if the test process exits (e.g. an uncaught exception) without
// running its teardowns: SIGKILL each live dockerd and leave a detached shell
// behind that removes its containers, mounts and temp dir once it is gone.
// (Not run when the process is killed by a signal.)
const EXIT_CLEANUP_SCRIPT = `
dir=$1; pid=$2; i=0
while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != Z ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
for root in "$dir"/exec/runtime-*/*; do [ -d "$root" ] || continue; for id in $(ls "$root"); do runc --root "$root" delete --force "$id"; done; done
for p in /proc/[0-9]*; do grep -qaF "$dir/" "$p/cmdline" 2>/dev/null && kill -9 "\${p#/proc/}" 2>/dev/null; done
awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print length($5), $5 }' /proc/self/mountinfo | sort -rn | while read -r _ m; do umount -l "$m"; done
rm -rf "$dir"
`;
const uncleaned = new Map<string, number | undefined>(); // dir -> pid while dockerd runs
let exitHookInstalled = false;
function trackDaemon(dir: string, pid: number | undefined): void {
  uncleaned.set(dir, pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [d, p] of uncleaned) {
      if (p !== undefined) signal(p, 'SIGKILL');
      try {
        spawn('sh', ['-c', EXIT_CLEANUP_SCRIPT, 'e2e-cleanup', d, p === undefined ? '' : String(p)], {
          detached: true,
          stdio: 'ignore',
        }).unref();
      } catch {
        // nothing more we can do
      }
    }
  });
}

// ---------------------------------------------------------------------------
// the docker CLI

/** Environment for the docker CLI: no host config, context or DOCKER_HOST leaks in. */
function cliEnv(configDir: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DOCKER_') && !k.startsWith('BUILDX_')) env[k] = v;
  }
  env.DOCKER_CONFIG = configDir;
  env.DOCKER_CLI_HINTS = 'false';
  return { ...env, ...extra };
}

export function runDockerCli(socket: string, configDir: string, args: string[], opts: DockerOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['-H', `unix://${socket}`, ...args], {
      env: cliEnv(configDir, opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {
      /* EPIPE when the CLI exits without reading stdin */
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new Error(`docker ${args.join(' ')} timed out after ${timeoutMs}ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        return;
      }
      resolve({ code: code ?? 128 + signalNumber(sig), stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : os.constants.signals[sig];
}

// ---------------------------------------------------------------------------
// cleanup of what a (possibly SIGKILLed) daemon leaves behind

/** Pids (other than ours) whose command line mentions `dir` — containerd and its shims. */
async function processesMentioning(dir: string): Promise<number[]> {
  const needle = dir.endsWith('/') ? dir : `${dir}/`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(pid);
    } catch {
      // process went away
    }
  }
  return pids;
}

/** Mount points at or below `dir` in our mount namespace, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function run(cmd: string, args: string[]): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run `runc --root <state dir> ...argv(id)` for every container in exec-root/runtime-<name>/<namespace>/<id>. */
async function runcForEach(execRoot: string, argv: (id: string) => string[]): Promise<void> {
  let runtimes: string[];
  try {
    runtimes = (await readdir(execRoot)).filter((n) => n.startsWith('runtime-'));
  } catch {
    return;
  }
  for (const rt of runtimes) {
    const rtDir = path.join(execRoot, rt);
    for (const ns of await readdir(rtDir).catch(() => [] as string[])) {
      const root = path.join(rtDir, ns);
      for (const id of await readdir(root).catch(() => [] as string[])) {
        await run('runc', ['--root', root, ...argv(id)]);
      }
    }
  }
}

async function cleanupDir(dir: string): Promise<string[]> {
  const problems: string[] = [];
  // containers of a SIGKILLed daemon keep running: delete them (kills their processes)
  await runcForEach(path.join(dir, 'exec'), (id) => ['delete', '--force', id]);

  const leftovers = await processesMentioning(dir);
  for (const pid of leftovers) signal(pid, 'SIGKILL');
  try {
    await pollUntil(() => leftovers.every((p) => !isAlive(p) || isZombie(p)), {
      timeoutMs: 10_000,
      what: `leftover processes ${leftovers.join(',')} to exit`,
    });
  } catch (e) {
    problems.push(String(e));
  }

  for (const mp of await mountsUnder(dir)) {
    const r = await run('umount', [mp]);
    if (r.code !== 0) {
      const lazy = await run('umount', ['-l', mp]);
      if (lazy.code !== 0) problems.push(`umount ${mp}: ${r.stderr.trim()} / ${lazy.stderr.trim()}`);
    }
  }

  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (e) {
    problems.push(`rm ${dir}: ${String(e)}`);
  }
  return problems;
}

/** A killed process reparented to a non-reaping init may linger as a zombie; treat zombies as gone. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z';
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------------------
// the daemon

const RELOAD_OK = 'Reloaded configuration';
const RELOAD_SIGNAL = 'Got signal to reload configuration';

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = await makeTempDir('dk-');
  const socket = path.join(dir, 'docker.sock');
  const configFile = path.join(dir, 'daemon.json');
  const cliConfigDir = path.join(dir, 'cli');
  await mkdir(cliConfigDir);

  const baseConfig: Record<string, unknown> = {
    ...opts.config,
  };
  const writeConfig = async (plugins: string[]): Promise<void> => {
    const cfg = plugins.length > 0 ? { ...baseConfig, 'authorization-plugins': plugins } : baseConfig;
    const tmp = `${configFile}.tmp`;
    await writeFile(tmp, JSON.stringify(cfg, null, 2) + '\n');
    await rename(tmp, configFile); // atomic: the daemon never reads a half-written file
  };
  await writeConfig(opts.authzPlugins ?? []);

  const ns = `e2e-${randomBytes(4).toString('hex')}`;
  const args = [
    '--data-root',
    path.join(dir, 'data'),
    '--exec-root',
    path.join(dir, 'exec'),
    '-H',
    `unix://${socket}`,
    '--pidfile',
    path.join(dir, 'docker.pid'),
    '--storage-driver=vfs',
    '--iptables=false',
    '--bridge=none',
    '--config-file',
    configFile,
    // Unique containerd namespaces: if a system containerd socket exists, dockerd
    // uses that containerd instead of starting its own, and must not share
    // namespaces with another daemon on the machine. (Flags, because 20.10
    // rejects the plugins-namespace key in daemon.json.)
    `--containerd-namespace=${ns}`,
    `--containerd-plugins-namespace=${ns}-plugins`,
    ...(opts.extraArgs ?? []),
  ];
  let child: ChildProcess;
  try {
    child = spawn('dockerd', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let logText = '';
  child.stdout?.on('data', (c: Buffer) => (logText += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (logText += c.toString('utf8')));
  let exitInfo: ExitInfo | undefined;
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const exited = exitPromise(child).then((info) => {
    exitInfo = info;
    if (uncleaned.has(dir)) uncleaned.set(dir, undefined);
    return info;
  });
  trackDaemon(dir, child.pid);
  const pid = child.pid ?? -1;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitInfo === undefined && spawnError === undefined) {
        // dockerd gives each running container its stop timeout (10s) on
        // shutdown; kill them first so stop() is quick. (runc directly, not
        // the API: an authz plugin might deny `docker kill`.)
        await runcForEach(path.join(dir, 'exec'), (id) => ['kill', id, 'KILL']);
        signal(pid, 'SIGTERM');
        if ((await withDeadline(exited, 30_000)) === undefined) {
          signal(pid, 'SIGKILL');
          await withDeadline(exited, 10_000);
        }
      }
      const problems = await cleanupDir(dir);
      uncleaned.delete(dir);
      if (problems.length > 0) throw new Error(`dockerd cleanup of ${dir} incomplete:\n${problems.join('\n')}`);
    })();
    return stopping;
  };

  const deadReason = (): string | undefined => {
    if (spawnError !== undefined) return `dockerd failed to spawn: ${spawnError.message}`;
    if (exitInfo !== undefined) {
      return `dockerd exited (code=${exitInfo.code} signal=${exitInfo.signal})\n--- dockerd log\n${logText}`;
    }
    return undefined;
  };

  try {
    await pollUntil(
      async () => {
        try {
          // any HTTP status counts: an authz plugin may deny the ping
          await unixRequest(socket, 'GET', '/_ping', { timeoutMs: 2_000 });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: opts.readyTimeoutMs ?? 60_000, intervalMs: 100, what: `dockerd on ${socket}`, abort: deadReason },
    );
  } catch (e) {
    const logSoFar = logText;
    await stop().catch(() => undefined);
    const msg = (e as Error).message;
    throw new Error(msg.includes('--- dockerd log') ? msg : `${msg}\n--- dockerd log\n${logSoFar}`, { cause: e });
  }

  let reloadChain: Promise<void> = Promise.resolve();
  const setAuthzPlugins = (names: string[], timeoutMs = 30_000): Promise<void> => {
    const next = reloadChain.then(async () => {
      const mark = logText.length;
      await writeConfig(names);
      signal(pid, 'SIGHUP');
      await pollUntil(
        () => {
          const since = logText.slice(mark);
          const at = since.indexOf(RELOAD_SIGNAL);
          if (at < 0) return false;
          const after = since.slice(at);
          if (after.includes(RELOAD_OK)) return true;
          const bad = after.split('\n').find((l) => /level=(fatal|error)/.test(l));
          if (bad !== undefined) throw new Error(`dockerd rejected the reload: ${bad}`);
          return false;
        },
        { timeoutMs, what: `dockerd to reload with authorization-plugins=${JSON.stringify(names)}`, abort: deadReason },
      );
    });
    reloadChain = next.catch(() => undefined);
    return next;
  };

  return {
    socket,
    dir,
    pid,
    docker: (a, o) => runDockerCli(socket, cliConfigDir, a, o),
    request: (method, urlPath, o) => unixRequest(socket, method, urlPath, o),
    setAuthzPlugins,
    log: () => logText,
    exitStatus: () => exitInfo,
    stop,
  };
}
