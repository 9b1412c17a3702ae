/**
 * The real plugin as a child process: `node dist/cli.js serve` (build it first with `npm run build`),
 * or any other `command` (e.g. the allow-all stand-in of test/e2e/helpers/plugin.ts), on a socket of
 * the test's choosing, with its stdout parsed as JSON log lines.
 *
 * Stop it even when a test fails: `t.teardown(() => p.stop())`. stop() and kill() also remove the
 * socket file.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { unixRequest } from './http.js';
import { PLUGIN_CLI } from './paths.js';
import { signal, type ExitInfo } from './process.js';
import { pollUntil, withDeadline } from './wait.js';

export interface PluginOptions {
  /** Unix socket to listen on; for dockerd use pluginSocketPath(name) (test/e2e/helpers/plugin.ts). */
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

export async function spawnPlugin(opts: PluginOptions): Promise<PluginProcess> {
  const argv = opts.command ?? [process.execPath, PLUGIN_CLI, 'serve'];
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('spawnPlugin: empty command');
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
      if ((await withDeadline(exited, graceMs)) === undefined) signal(pid, 'SIGKILL');
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
