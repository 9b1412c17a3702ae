import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { compilePolicy, denyAllPolicy, type CompiledPolicy } from './compile.js';
import { DEFAULT_POLICY_FILE, formatIssue, loadPolicyFile, parsePolicy, type LoadResult } from './load.js';
import { watchPolicyFile, type PolicyWatcher } from './watch.js';

/**
 * Where the policy in force came from:
 * - `file`: the configured file (or the built-in default when none is configured);
 * - `last-known-good`: the file was rejected, so the last policy that was valid and in force
 *   (saved in the state database) serves;
 * - `deny-all`: the file was rejected and nothing was saved: everything is refused, with a message
 *   that says why.
 */
export type PolicyState = 'file' | 'last-known-good' | 'deny-all';

export interface PolicyStatus {
  readonly state: PolicyState;
  /** The file the policy in force was read from. */
  readonly source: string;
  readonly sha256: string | undefined;
  readonly rules: number;
  /** When the policy in force was put in force. */
  readonly since: string;
  /** The file on disk was rejected when last read: why (file:line:col) and when. */
  readonly rejected?: { readonly file: string; readonly errors: readonly string[]; readonly at: string };
}

export type ReloadTrigger = 'start' | 'explicit' | 'replaced' | 'peer';

export interface ReloadOutcome {
  readonly ok: boolean;
  readonly source: string;
  readonly errors?: readonly string[];
}

/** The saved copy of the last policy that was valid and in force (kept in the state database). */
export interface LastGoodStore {
  load(): { readonly source: string; readonly text: string; readonly sha256: string; readonly at: string } | undefined;
  save(policy: { readonly source: string; readonly text: string; readonly sha256: string }): void;
}

/** How workers tell each other about an explicit reload (a counter in the state database). */
export interface ReloadSignal {
  generation(): number;
  bump(): number;
}

export interface PolicyLifecycleOptions {
  /** The configured policy file; undefined means the built-in default policy. */
  readonly file: string | undefined;
  readonly pluginName: string;
  readonly log: Logger;
  readonly lastGood: LastGoodStore;
  readonly peers?: ReloadSignal;
  /** How often to look for explicit reloads made through other workers. Default 1 s. */
  readonly peerPollMs?: number;
  readonly watchDebounceMs?: number;
  /** Told about every reload's result (for metrics). */
  readonly onReload?: (result: 'ok' | 'rejected', trigger: ReloadTrigger) => void;
}

export interface PolicyLifecycle {
  /** The compiled policy in force (a reload swaps it between requests). */
  current(): CompiledPolicy;
  status(): PolicyStatus;
  reload(trigger: Exclude<ReloadTrigger, 'start'>): ReloadOutcome;
  close(): void;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const withHash = (policy: CompiledPolicy, hash: string): CompiledPolicy => Object.freeze({ ...policy, hash: hash.slice(0, 12) });

function errorsOf(result: Extract<LoadResult, { ok: false }>): string[] {
  return result.issues.map(formatIssue);
}

/**
 * Keeps a valid policy in force whatever happens to the file: it is read at start and on reload
 * (SIGHUP, `docker-authz reload`, a worker's peer reload, the file being replaced); a file that
 * does not load leaves the policy in force as it is (at start: the last good one, or deny-all) and
 * is reported loudly. It never throws and never exits on a policy error.
 */
export function startPolicyLifecycle(opts: PolicyLifecycleOptions): PolicyLifecycle {
  const { log, pluginName } = opts;
  const path = opts.file ?? DEFAULT_POLICY_FILE;
  let policy: CompiledPolicy;
  let status: PolicyStatus;
  let watcher: PolicyWatcher | undefined;

  const putInForce = (result: Extract<LoadResult, { ok: true }>): void => {
    const hash = sha256(result.text);
    policy = withHash(compilePolicy(result.policy, result.source, pluginName), hash);
    status = { state: 'file', source: result.source, sha256: hash, rules: policy.rules.length, since: new Date().toISOString() };
    try {
      opts.lastGood.save({ source: result.source, text: result.text, sha256: hash });
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'could not save the policy as the last good one; a restart with a broken file would deny everything',
      );
    }
  };

  const read = (): LoadResult => {
    const result = loadPolicyFile(opts.file);
    watcher?.seen(result.file);
    return result;
  };

  const rejectedNow = (errors: string[]) => ({ file: path, errors, at: new Date().toISOString() });

  // At start: the file, else the last good policy, else deny everything.
  const first = read();
  if (first.ok) {
    putInForce(first);
  } else {
    const errors = errorsOf(first);
    const saved = opts.lastGood.load();
    const restored = saved ? parsePolicy(saved.text, saved.source) : undefined;
    if (saved && restored?.ok) {
      policy = withHash(compilePolicy(restored.policy, saved.source, pluginName), saved.sha256);
      status = {
        state: 'last-known-good',
        source: saved.source,
        sha256: saved.sha256,
        rules: policy.rules.length,
        since: new Date().toISOString(),
        rejected: rejectedNow(errors),
      };
      log.error(
        { errors, policy: saved.source, savedAt: saved.at },
        `policy file rejected; serving the last good policy saved at ${saved.at}: fix the file, then run docker-authz reload`,
      );
    } else {
      const reason = `docker-authz has no valid policy (${errors[0] ?? path}); an administrator must fix ${path} (docker-authz check ${path}) and run docker-authz reload`;
      policy = denyAllPolicy(reason, pluginName);
      status = {
        state: 'deny-all',
        source: path,
        sha256: undefined,
        rules: 0,
        since: new Date().toISOString(),
        rejected: rejectedNow(errors),
      };
      log.error(
        { errors },
        'policy file rejected and no last good policy is saved: every request is DENIED until the file is fixed and reloaded',
      );
    }
  }

  let seenGeneration = opts.peers?.generation() ?? 0;

  const reload = (trigger: Exclude<ReloadTrigger, 'start'>): ReloadOutcome => {
    const result = read();
    if (!result.ok) {
      const errors = errorsOf(result);
      status = { ...status, rejected: rejectedNow(errors) };
      log.error(
        { errors, trigger, policy: status.source, serving: status.state },
        'policy reload rejected; the previous policy stays in force',
      );
      opts.onReload?.('rejected', trigger);
      return { ok: false, source: status.source, errors };
    }
    putInForce(result);
    if (trigger === 'explicit' && opts.peers) {
      try {
        seenGeneration = opts.peers.bump();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not tell other workers about the reload; they reload when the file is replaced');
      }
    }
    log.info({ policy: status.source, rules: status.rules, sha256: status.sha256, trigger }, 'policy reloaded');
    opts.onReload?.('ok', trigger);
    return { ok: true, source: status.source };
  };

  if (opts.file !== undefined) {
    watcher = watchPolicyFile(
      opts.file,
      first.file,
      {
        replaced: () => void reload('replaced'),
        modifiedInPlace: () =>
          log.warn(
            { policy: opts.file },
            'policy file was modified in place: not loaded, it may be half-written. Run docker-authz reload when the edit is complete (or replace the file by renaming a new one over it)',
          ),
      },
      { debounceMs: opts.watchDebounceMs ?? 200, onError: (err) => log.warn({ err: err.message }, 'policy watch') },
    );
  }

  const poll = opts.peers
    ? setInterval(() => {
        const g = opts.peers!.generation();
        if (g === seenGeneration) return;
        seenGeneration = g;
        reload('peer');
      }, opts.peerPollMs ?? 1000)
    : undefined;
  poll?.unref();

  return {
    current: () => policy,
    status: () => status,
    reload,
    close() {
      watcher?.close();
      if (poll) clearInterval(poll);
    },
  };
}
