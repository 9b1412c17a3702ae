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
 *
 * `hostsInConfig` puts the API socket in daemon.json's `hosts` instead of a
 * `-H` flag (dockerd refuses a setting given both ways, so a daemon whose
 * daemon.json gets more listeners must have none on its command line), and
 * `restart()` stops the daemon and starts it again on the same data, as a
 * host restarts its dockerd (listeners and TLS settings are read only at start).
 *
 * The daemon runs in a mount namespace of its own in which this test
 * process's plugins dir (PLUGINS_DIR, helpers/plugin.ts) is bound over
 * /run/docker/plugins: it finds the plugins this test file starts, and none
 * of the sockets other test files (or the machine) have there. Its mounts
 * (container shm, network namespaces) live and die with that namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { unixRequest, type HttpResult, type RequestOptions } from '../../helpers/http.js';
import { exitOf, signal, type ExecResult, type ExitInfo } from '../../helpers/process.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { pollUntil, withDeadline } from '../../helpers/wait.js';
import { cleanupDir, daemonExited, runcForEach, trackDaemon, untrackDaemon } from './cleanup.js';
import { runDockerCli, type DockerOptions } from './docker-cli.js';
import { DAEMON_PLUGINS_DIR, PLUGINS_DIR } from './plugin.js';

export interface DockerdOptions {
  /** Names of authorization plugins to enable from the start (they must already be running). */
  authzPlugins?: string[];
  /** Extra daemon.json keys. */
  config?: Record<string, unknown>;
  /** Extra dockerd flags, e.g. a TLS tcp listener (`-H tcp://…`, `--tlsverify`, …). */
  extraArgs?: string[];
  /** The API socket in daemon.json (`"hosts": ["unix://…"]`) instead of `-H` on the command line. */
  hostsInConfig?: boolean;
  /** How long to wait for the daemon to answer /_ping. Default 60s. */
  readyTimeoutMs?: number;
}

export interface Dockerd {
  /** Path of the daemon's API unix socket. */
  readonly socket: string;
  /** The daemon's private temp dir (removed by stop()). */
  readonly dir: string;
  /** Process id of dockerd (a new one after restart()). */
  readonly pid: number;
  /** Run the docker CLI against this daemon. Resolves on any exit code; rejects only on timeout/spawn failure. */
  docker(args: string[], opts?: DockerOptions): Promise<ExecResult>;
  /** Raw HTTP request over the daemon socket. Resolves on any HTTP status. */
  request(method: string, urlPath: string, opts?: RequestOptions): Promise<HttpResult>;
  /** Rewrite daemon.json with these authorization plugins, SIGHUP and wait until the reload is applied. */
  setAuthzPlugins(names: string[], timeoutMs?: number): Promise<void>;
  /** Everything the daemon has written to stdout/stderr so far. */
  log(): string;
  /** Exit status once the daemon has exited, otherwise undefined (of the current process, after a restart()). */
  exitStatus(): ExitInfo | undefined;
  /**
   * SIGTERM dockerd, wait until it has exited, and start it again with the same command line, data
   * and daemon.json (as it is now); resolves when the new daemon answers /_ping. Running containers
   * stop unless daemon.json has "live-restore": true.
   */
  restart(): Promise<void>;
  /** Stop the daemon (SIGTERM, then SIGKILL), kill leftovers, unmount and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const RELOAD_OK = 'Reloaded configuration';
const RELOAD_SIGNAL = 'Got signal to reload configuration';

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = await makeTempDir('dk-');
  const socket = path.join(dir, 'docker.sock');
  const configFile = path.join(dir, 'daemon.json');
  const cliConfigDir = path.join(dir, 'cli');
  await mkdir(cliConfigDir);

  const baseConfig: Record<string, unknown> = {
    ...(opts.hostsInConfig && { hosts: [`unix://${socket}`] }),
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
    ...(opts.hostsInConfig ? [] : ['-H', `unix://${socket}`]),
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
  // unshare and sh exec: the child's pid is dockerd's. (`dockerd` is looked up on PATH by sh, so a
  // test may put a shim first, as helpers/authz-ns.ts does.)
  const inPrivateNamespace = [
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mkdir -p "$1" && mount --bind "$0" "$1" && shift && exec dockerd "$@"',
    PLUGINS_DIR,
    DAEMON_PLUGINS_DIR,
    ...args,
  ];
  // The environment (PATH: which dockerd) of the first start, for restarts too.
  const spawnEnv = { ...process.env };
  let logText = '';
  let child: ChildProcess | undefined;
  let exitInfo: ExitInfo | undefined;
  let spawnError: Error | undefined;
  let exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  let pid = -1;
  const launch = (): void => {
    const c = spawn('unshare', inPrivateNamespace, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: spawnEnv });
    child = c;
    exitInfo = undefined;
    spawnError = undefined;
    c.stdout?.on('data', (chunk: Buffer) => (logText += chunk.toString('utf8')));
    c.stderr?.on('data', (chunk: Buffer) => (logText += chunk.toString('utf8')));
    c.on('error', (e) => {
      if (child === c) spawnError = e;
    });
    exited = exitOf(c).then((info) => {
      if (child === c) {
        exitInfo = info;
        daemonExited(dir);
      }
      return info;
    });
    trackDaemon(dir, c.pid);
    pid = c.pid ?? -1;
  };
  try {
    await mkdir(PLUGINS_DIR, { recursive: true, mode: 0o755 });
    launch();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }

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
      untrackDaemon(dir);
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

  const waitReady = () =>
    pollUntil(
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
  try {
    await waitReady();
  } catch (e) {
    const logSoFar = logText;
    await stop().catch(() => undefined);
    const msg = (e as Error).message;
    throw new Error(msg.includes('--- dockerd log') ? msg : `${msg}\n--- dockerd log\n${logSoFar}`, { cause: e });
  }

  const restart = async (): Promise<void> => {
    if (stopping !== undefined) throw new Error('dockerd restart after stop()');
    if (exitInfo === undefined && spawnError === undefined) {
      signal(pid, 'SIGTERM');
      if ((await withDeadline(exited, 60_000)) === undefined) throw new Error(`dockerd (pid ${pid}) did not exit within 60 s of SIGTERM`);
    }
    launch();
    await waitReady();
  };

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
    get pid() {
      return pid;
    },
    docker: (a, o) => runDockerCli(socket, cliConfigDir, a, o),
    request: (method, urlPath, o) => unixRequest(socket, method, urlPath, o),
    setAuthzPlugins,
    log: () => logText,
    exitStatus: () => exitInfo,
    restart,
    stop,
  };
}
