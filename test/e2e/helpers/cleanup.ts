/**
 * What a (possibly SIGKILLed) dockerd leaves behind in its private dir: running containers,
 * containerd and its shims, mounts. Cleaned by stop(), and as a last resort when the test process
 * exits without running its teardowns.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { isGone, run, signal } from '../../helpers/process.js';
import { pollUntil } from '../../helpers/wait.js';

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

/** A cleanup command: its failure is reported by the caller, never thrown. */
const attempt = (cmd: string, args: string[]) =>
  run(cmd, args, { timeoutMs: 30_000 }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));

/** Run `runc --root <state dir> ...argv(id)` for every container in exec-root/runtime-<name>/<namespace>/<id>. */
export async function runcForEach(execRoot: string, argv: (id: string) => string[]): Promise<void> {
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
        await attempt('runc', ['--root', root, ...argv(id)]);
      }
    }
  }
}

/** Removes everything a daemon that has exited left in `dir`, and `dir`; returns what went wrong. */
export async function cleanupDir(dir: string): Promise<string[]> {
  const problems: string[] = [];
  // containers of a SIGKILLed daemon keep running: delete them (kills their processes)
  await runcForEach(path.join(dir, 'exec'), (id) => ['delete', '--force', id]);

  const leftovers = await processesMentioning(dir);
  for (const pid of leftovers) signal(pid, 'SIGKILL');
  try {
    await pollUntil(() => leftovers.every(isGone), {
      timeoutMs: 10_000,
      what: `leftover processes ${leftovers.join(',')} to exit`,
    });
  } catch (e) {
    problems.push(String(e));
  }

  for (const mp of await mountsUnder(dir)) {
    const r = await attempt('umount', [mp]);
    if (r.code !== 0) {
      const lazy = await attempt('umount', ['-l', mp]);
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

// Last resort if the test process exits (e.g. an uncaught exception) without running its
// teardowns: SIGKILL each live dockerd and leave a detached shell behind that removes its
// containers, mounts and temp dir once it is gone. (Not run when the process is killed by a signal.)
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

/** Remember `dir` (and the daemon's pid while it runs) for the last-resort cleanup. */
export function trackDaemon(dir: string, pid: number | undefined): void {
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

/** The daemon in `dir` has exited: the last-resort cleanup no longer needs to kill it. */
export function daemonExited(dir: string): void {
  if (uncleaned.has(dir)) uncleaned.set(dir, undefined);
}

/** `dir` has been cleaned. */
export function untrackDaemon(dir: string): void {
  uncleaned.delete(dir);
}
