/**
 * Start the authorization plugin under test as a legacy (socket-discovered) plugin.
 *
 * dockerd finds a legacy plugin named N by the socket /run/docker/plugins/N.sock,
 * sends `POST /Plugin.Activate`, then `POST /AuthZPlugin.AuthZReq` and
 * `POST /AuthZPlugin.AuthZRes` for every API call. The plugins dir is
 * machine-wide, so always use `uniquePluginName()`.
 *
 * By default this runs the real plugin, `node dist/cli.js serve` (build it first
 * with `npm run build`). Pass `command` to run something else, e.g. the
 * allow-all stand-in from `writeAllowAllPlugin()`.
 *
 * Stop it even when a test fails: `t.teardown(() => p.stop())`. stop() and
 * kill() also remove the socket file.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil, signal, unixRequest } from './dockerd.js';

/** Repository root (this file is test/e2e/helpers/plugin.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const PLUGIN_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
export const PLUGINS_DIR = '/run/docker/plugins';

export interface PluginOptions {
  /** Unix socket to listen on; for dockerd use pluginSocketPath(name). */
  socket: string;
  /** AUTHZ_STATE_DIR (created if missing). */
  stateDir: string;
  /** AUTHZ_POLICY, only set when given. */
  policyFile?: string;
  /** Extra/overriding environment (applied last). */
  env?: Record<string, string>;
  /** argv to run instead of [node, dist/cli.js, serve]. */
  command?: string[];
  /** Working directory; defaults to stateDir so no stray .env in the repo is picked up. */
  cwd?: string;
  /** How long to wait for `GET /` to answer 200. Default 15s. */
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PluginProcess {
  readonly pid: number;
  readonly socket: string;
  /** Exit code once exited (null while running or when killed by a signal). */
  readonly exitCode: number | null;
  /** Exit status once exited, otherwise undefined. */
  exitStatus(): ExitInfo | undefined;
  /** Complete stdout lines so far. */
  lines(): string[];
  /** Stdout lines that parsed as JSON objects, in order. */
  records(): unknown[];
  /**
   * Resolve with the first stdout JSON object (at line index >= `from`) for which
   * `pred` returns true; reject on timeout (default 10s) or if the plugin exits first.
   * Use `from = p.lines().length` to only consider lines printed from now on.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- log records are untyped JSON
  waitForLine<T = any>(pred: (obj: T) => boolean, timeoutMs?: number, from?: number): Promise<T>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** SIGTERM, wait for exit (SIGKILL after 10s), remove the socket. Idempotent. */
  stop(): Promise<ExitInfo>;
  /** SIGKILL (even while a stop() is pending), wait for exit, remove the socket. */
  kill(): Promise<ExitInfo>;
}

/** e.g. `authz-e2e-1234-a1b2c3`. */
export function uniquePluginName(): string {
  return `authz-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** `/run/docker/plugins/<name>.sock` */
export function pluginSocketPath(name: string): string {
  return path.join(PLUGINS_DIR, `${name}.sock`);
}

/** Create /run/docker/plugins (mode 0755) if missing. */
export async function ensurePluginsDir(): Promise<void> {
  await mkdir(PLUGINS_DIR, { recursive: true, mode: 0o755 });
}

function pluginEnv(opts: PluginOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // keep the parent's AUTHZ_* settings and test-runner loaders out of the plugin
    if (!k.startsWith('AUTHZ_') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.AUTHZ_SOCKET = opts.socket;
  env.AUTHZ_STATE_DIR = opts.stateDir;
  if (opts.policyFile !== undefined) env.AUTHZ_POLICY = opts.policyFile;
  env.AUTHZ_LOG_LEVEL = 'info';
  env.AUTHZ_ENV_FILE = ''; // never the host's /etc/docker-authz/authz.env
  return { ...env, ...opts.env };
}

export async function startPlugin(opts: PluginOptions): Promise<PluginProcess> {
  const argv = opts.command ?? [process.execPath, PLUGIN_CLI, 'serve'];
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('startPlugin: empty command');
  if (opts.command === undefined && !existsSync(PLUGIN_CLI)) {
    throw new Error(`${PLUGIN_CLI} does not exist; run \`npm run build\` first`);
  }
  await mkdir(path.dirname(opts.socket), { recursive: true, mode: 0o755 });
  await mkdir(opts.stateDir, { recursive: true });

  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? opts.stateDir,
    env: pluginEnv(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const lines: string[] = [];
  const parsed: unknown[] = []; // parallel to lines; undefined for non-JSON lines
  let partial = '';
  let errText = '';
  child.stdout.on('data', (c: Buffer) => {
    partial += c.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      lines.push(line);
      parsed.push(parseObject(line));
    }
  });
  child.stderr.on('data', (c: Buffer) => (errText += c.toString('utf8')));

  let exitInfo: ExitInfo | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (e) => {
      spawnError = e;
      exitInfo ??= { code: null, signal: null };
      resolve(exitInfo);
    });
    child.once('exit', (code, sig) => {
      exitInfo = { code, signal: sig };
      resolve(exitInfo);
    });
  });
  const pid = child.pid ?? -1;
  // Last resort if the test process exits without running teardowns.
  let running = child.pid !== undefined;
  void exited.then(() => (running = false));
  const onExit = (): void => {
    if (running) signal(pid, 'SIGKILL');
    rmSync(opts.socket, { force: true });
  };
  process.once('exit', onExit);

  const deadReason = (): string | undefined => {
    if (spawnError !== undefined) return `plugin failed to spawn: ${spawnError.message}`;
    if (exitInfo === undefined) return undefined;
    return `plugin exited (code=${exitInfo.code} signal=${exitInfo.signal})\n--- stderr\n${errText}\n--- stdout\n${lines.join('\n')}${partial}`;
  };

  const finish = async (sig: NodeJS.Signals, graceMs: number): Promise<ExitInfo> => {
    if (exitInfo === undefined) {
      signal(pid, sig);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first === 'late') signal(pid, 'SIGKILL');
    }
    const info = await exited;
    await rm(opts.socket, { force: true });
    process.removeListener('exit', onExit);
    return info;
  };
  let stopping: Promise<ExitInfo> | undefined;
  const stop = (): Promise<ExitInfo> => (stopping ??= finish('SIGTERM', 10_000));
  const kill = (): Promise<ExitInfo> => {
    if (exitInfo === undefined) signal(pid, 'SIGKILL'); // also escalates a stop() in progress
    return (stopping ??= finish('SIGKILL', 10_000));
  };

  try {
    await pollUntil(
      async () => {
        try {
          return (await unixRequest(opts.socket, 'GET', '/', { timeoutMs: 2_000 })).status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: opts.readyTimeoutMs ?? 15_000, intervalMs: 50, what: `plugin on ${opts.socket}`, abort: deadReason },
    );
  } catch (e) {
    await kill();
    throw new Error(`${(e as Error).message}\n--- plugin stderr\n${errText}\n--- plugin stdout\n${lines.join('\n')}${partial}`, {
      cause: e,
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- log records are untyped JSON
  const waitForLine = <T = any>(pred: (obj: T) => boolean, timeoutMs = 10_000, from = 0): Promise<T> => {
    let next = from;
    return pollUntil(
      () => {
        for (; next < parsed.length; next++) {
          const obj = parsed[next];
          if (obj === undefined) continue;
          let hit: boolean;
          try {
            hit = pred(obj as T);
          } catch {
            hit = false;
          }
          if (hit) return { obj: obj as T };
        }
        return undefined;
      },
      {
        timeoutMs,
        intervalMs: 25,
        what: `a plugin log line matching ${pred.toString()}`,
        abort: deadReason,
      },
    ).then((r) => r.obj);
  };

  return {
    pid,
    socket: opts.socket,
    get exitCode() {
      return exitInfo?.code ?? null;
    },
    exitStatus: () => exitInfo,
    lines: () => [...lines],
    records: () => parsed.filter((o) => o !== undefined),
    waitForLine,
    stderr: () => errText,
    stop,
    kill,
  };
}

function parseObject(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Source of a stand-in allow-all authz plugin (plain Node ESM, no dependencies).
 * It listens on $AUTHZ_SOCKET, answers `GET /` with 200, `Plugin.Activate` with
 * {"Implements":["authz"]}, everything else with {"Allow":true}, and prints one
 * JSON line per plugin request: {"op":"req"|"res"|"activate"|..., "method", "path", "allow":true}.
 */
export const ALLOW_ALL_PLUGIN_SOURCE = `
import http from 'node:http'
import fs from 'node:fs'
const sock = process.env.AUTHZ_SOCKET
if (!sock) { console.error('AUTHZ_SOCKET not set'); process.exit(2) }
try { fs.unlinkSync(sock) } catch {}
const ops = { '/Plugin.Activate': 'activate', '/AuthZPlugin.AuthZReq': 'req', '/AuthZPlugin.AuthZRes': 'res' }
const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    let body = {}
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') } catch {}
    let reply
    if (req.method === 'GET' && req.url === '/') reply = { ok: true }
    else if (req.url === '/Plugin.Activate') reply = { Implements: ['authz'] }
    else reply = { Allow: true }
    if (!(req.method === 'GET' && req.url === '/')) {
      console.log(JSON.stringify({ op: ops[req.url] ?? req.url, method: body.RequestMethod, path: body.RequestUri, user: body.User, allow: true, host: req.headers.host }))
    }
    res.setHeader('Content-Type', 'application/vnd.docker.plugins.v1+json')
    res.end(JSON.stringify(reply))
  })
})
server.listen(sock, () => console.log(JSON.stringify({ msg: 'listening', socket: sock })))
const shutdown = () => { server.close(() => process.exit(0)); server.closeAllConnections() }
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
`;

/** Write the allow-all stand-in into `dir`; returns the argv to pass as `command`. */
export async function writeAllowAllPlugin(dir: string): Promise<string[]> {
  const file = path.join(dir, 'allow-all-plugin.mjs');
  await writeFile(file, ALLOW_ALL_PLUGIN_SOURCE);
  return [process.execPath, file];
}
