/**
 * A private mount namespace in which the real install/uninstall scripts can run as root without
 * touching the host: scratch directories are bind-mounted over the paths the installer writes.
 *
 *   /etc/docker            -> <scratch>/etc-docker      (daemon plugin spec dir)
 *   /run                   -> <scratch>/run             (plugin socket, /var/run/docker.pid)
 *   /opt/docker-authz      -> <scratch>/opt
 *   /etc/docker-authz      -> <scratch>/etc-authz
 *   /var/lib/docker-authz  -> <scratch>/state
 *   /usr/local/bin         -> <scratch>/bin             (where `docker-authz` goes)
 *
 * A holder process (`unshare -m --propagation private ... sleep infinity`) keeps the namespace
 * alive; commands enter it with `nsenter -t <holder> -m`. Mount points that do not exist on the
 * host are created empty and removed again by stop().
 *
 * dockerd must run INSIDE the namespace to see the plugin spec and socket: put `shimDir` first on
 * PATH while calling the harness's startDockerd(), and its `dockerd` is started through nsenter
 * (same pid: nsenter execs). The daemon's own files stay under /tmp, which is shared, so the
 * harness and the docker CLI work from the host side as usual.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, signal, type ExecResult, type RunOptions } from '../../helpers/process.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { pollUntil } from '../../helpers/wait.js';

export const BINDS: ReadonlyArray<readonly [target: string, sub: string]> = [
  ['/etc/docker', 'etc-docker'],
  ['/run', 'run'],
  ['/opt/docker-authz', 'opt'],
  ['/etc/docker-authz', 'etc-authz'],
  ['/var/lib/docker-authz', 'state'],
  ['/usr/local/bin', 'bin'],
];

export interface AuthzNamespace {
  /** The scratch root on the host (also holds pm2's home: `<scratch>/pm2`). */
  readonly scratch: string;
  /** pid of the process holding the namespace. */
  readonly pid: number;
  /** Directory with a `dockerd` shim that starts dockerd inside the namespace. */
  readonly shimDir: string;
  /** PM2_HOME for everything in this namespace. */
  readonly pm2Home: string;
  /** Host path of `p` as seen inside the namespace (only for paths under a bind). */
  hostPath(p: string): string;
  /** Run a command inside the namespace; resolves with any exit code. Default timeout 180 s. */
  exec(cmd: string, args: string[], opts?: RunOptions): Promise<ExecResult>;
  /** Kill the holder, remove mount points we created on the host, remove scratch. Idempotent. */
  stop(): Promise<void>;
}

export async function startAuthzNamespace(): Promise<AuthzNamespace> {
  const scratch = await makeTempDir('ans-');
  const created: string[] = [];
  for (const [target, sub] of BINDS) {
    await mkdir(path.join(scratch, sub), { recursive: true });
    if (!existsSync(target)) {
      await mkdir(target, { recursive: true });
      created.push(target);
    }
  }
  const pm2Home = path.join(scratch, 'pm2');
  await mkdir(pm2Home);

  const script = [
    'set -e',
    ...BINDS.map(([target, sub]) => `mount --bind ${path.join(scratch, sub)} ${target}`),
    'echo READY',
    'exec sleep infinity',
  ].join('\n');
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exited = false;
  holder.stdout.on('data', (c: Buffer) => (out += c.toString()));
  holder.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const gone = new Promise<void>((resolve) => holder.once('exit', () => ((exited = true), resolve())));
  const pid = holder.pid ?? -1;
  const onExit = (): void => signal(pid, 'SIGKILL');
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      signal(pid, 'SIGKILL');
      await gone;
      for (const dir of created) await rmdir(dir).catch(() => undefined);
      await rm(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    })());

  try {
    await pollUntil(() => out.includes('READY'), {
      timeoutMs: 10_000,
      what: 'the mount namespace',
      abort: () => (exited ? `holder exited: ${err}` : undefined),
    });
  } catch (e) {
    await stop();
    throw e;
  }

  const shimDir = path.join(scratch, 'shim');
  await mkdir(shimDir);
  await writeFile(path.join(shimDir, 'dockerd'), `#!/bin/sh\nexec nsenter -t ${pid} -m -- /usr/sbin/dockerd "$@"\n`);
  await chmod(path.join(shimDir, 'dockerd'), 0o755);

  const hostPath = (p: string): string => {
    const hit = BINDS.filter(([target]) => p === target || p.startsWith(`${target}/`)).sort((a, b) => b[0].length - a[0].length)[0];
    if (!hit) throw new Error(`${p} is not under a scratch bind`);
    return path.join(scratch, hit[1], p.slice(hit[0].length));
  };

  return {
    scratch,
    pid,
    shimDir,
    pm2Home,
    hostPath,
    exec: (cmd, args, opts = {}) => run('nsenter', ['-t', String(pid), '-m', '--', cmd, ...args], { timeoutMs: 180_000, ...opts }),
    stop,
  };
}

/** Snapshot of a directory tree: relative path -> type, mode and content (or link target). */
export async function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      if (skip(rel)) continue;
      const st = await lstat(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link -> ${await readlink(full)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        await walk(full);
      } else if (st.isFile())
        out[rel] = `file ${mode} ${createHash('sha256')
          .update(await readFile(full))
          .digest('hex')
          .slice(0, 16)}`;
      else out[rel] = `other ${st.mode.toString(8)}`;
    }
  };
  await walk(root);
  return out;
}
