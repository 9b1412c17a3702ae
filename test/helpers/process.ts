/**
 * Child processes for tests: one way to run a command to completion (`run`), and the small
 * process-table utilities the harnesses share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecResult {
  /** Exit code; 128 + the signal number when killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for binary output such as a tar stream). */
  stdoutBytes: Buffer;
  /** How many bytes the command wrote to stdout (more than kept with `maxStdout`). */
  stdoutLength: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed (stdin is always closed). */
  input?: string | Buffer;
  /** SIGKILL the command and reject after this long. Default 60 s. */
  timeoutMs?: number;
  /** Run as this user and group. */
  uid?: number;
  gid?: number;
  /** Keep at most this many bytes of stdout (for commands that stream a lot); all are counted. */
  maxStdout?: number;
}

const RUN_OPTIONS = new Set(['env', 'cwd', 'input', 'timeoutMs', 'uid', 'gid', 'maxStdout']);

/**
 * Runs a command to completion. Resolves on any exit code; rejects when it cannot be spawned or
 * runs longer than `timeoutMs` (the error carries its output so far).
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  // An environment passed where the options go type-checks (an index signature fits them): refuse it.
  const unknown = Object.keys(opts).filter((k) => !RUN_OPTIONS.has(k));
  if (unknown.length > 0) throw new Error(`run(${cmd}): unknown options ${unknown.join(', ')} (an environment goes in { env })`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const keep = opts.maxStdout ?? Infinity;
    let stdoutLength = 0;
    child.stdout.on('data', (c: Buffer) => {
      if (stdoutLength < keep) out.push(c.subarray(0, keep - stdoutLength));
      stdoutLength += c.length;
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {
      /* EPIPE when the command exits without reading stdin */
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
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        return;
      }
      resolve({ code: code ?? 128 + (sig === null ? 0 : os.constants.signals[sig]), stdout, stderr, stdoutBytes, stdoutLength });
    });
    child.stdin.end(opts.input);
  });
}

/** `run`, and throw (with the output) unless the command exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

/** Resolves once `child` has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
}

/** Send a signal, ignoring "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * True when `pid` has exited. A zombie counts as exited: a killed process reparented to an init
 * that does not reap (as on this CI host) lingers as one.
 */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
