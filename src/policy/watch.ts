import { closeSync, fstatSync, openSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { FileIdentity } from './load.js';

export interface PolicyWatcher {
  /** Tells the watcher which file the plugin read last (undefined: it could not be read). */
  seen(identity: FileIdentity | undefined): void;
  /** Stops watching; no callback runs after this returns. Idempotent. */
  close(): void;
}

export interface WatchHandlers {
  /** The path now names another file: it was replaced (renamed over, a symlink flipped) or created. */
  readonly replaced: () => void;
  /** The file the plugin read was written in place: it may be half-written, so it is not loaded. */
  readonly modifiedInPlace: () => void;
}

export interface WatchOptions {
  /** Quiet period after the last event before the file is looked at. Default 200 ms. */
  readonly debounceMs?: number;
  /** How long to wait before watching again when the directory watch fails or goes away. Default 2 s. */
  readonly retryMs?: number;
  /** Told about watch failures (the watcher keeps retrying). */
  readonly onError?: (err: Error) => void;
}

function identityOf(file: string): FileIdentity | undefined {
  try {
    const st = statSync(file);
    return st.isFile() ? { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Watches a policy file for replacement, the one kind of change that can be loaded without a window:
 * editors, configuration management and Kubernetes write a new file and rename it over the old (or
 * flip a symlink), so the new content is complete before the path names it. A write into the same
 * file can be seen half-done, so it is only reported (the operator reloads when the edit is
 * complete).
 *
 * Watches the file's DIRECTORY, not the file: a watch on the old inode never reports a rename over
 * it. Any event in the directory arms a debounce; when it fires, the path's identity (device and
 * inode, through symlinks) is compared with the file last read. The watcher keeps that file open:
 * an inode number is reused as soon as its file is gone, and a held one cannot be.
 */
export function watchPolicyFile(
  file: string,
  initial: FileIdentity | undefined,
  on: WatchHandlers,
  opts: WatchOptions = {},
): PolicyWatcher {
  const debounceMs = opts.debounceMs ?? 200;
  const retryMs = opts.retryMs ?? 2000;
  const dir = dirname(file);
  const name = basename(file);
  let base: FileIdentity | undefined;
  let held: number | undefined;
  let closed = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;

  const settle = () => {
    debounce = undefined;
    if (closed) return;
    const now = identityOf(file);
    if (now === undefined) return; // mid-replace, or deleted: its reappearance is the change
    if (base === undefined || now.dev !== base.dev || now.ino !== base.ino) return on.replaced();
    if (now.size !== base.size || now.mtimeMs !== base.mtimeMs) {
      base = now; // reported once per write
      on.modifiedInPlace();
    }
  };

  const arm = () => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(settle, debounceMs);
    debounce.unref();
  };

  const start = () => {
    retry = undefined;
    if (closed) return;
    try {
      // The name is only a hint (it can be null, or a sibling such as `..data`): every event is
      // checked against the file's identity.
      watcher = watch(dir, { persistent: false }, () => arm());
      watcher.on('error', (err) => restart(err));
      // The directory itself may have been replaced while we were not watching.
      arm();
    } catch (err) {
      restart(err as Error);
    }
  };

  const restart = (err: Error) => {
    watcher?.close();
    watcher = undefined;
    if (closed) return;
    opts.onError?.(new Error(`cannot watch ${dir} for changes to ${name}: ${err.message}; retrying`));
    retry = setTimeout(start, retryMs);
    retry.unref();
  };

  const seen = (identity: FileIdentity | undefined) => {
    if (held !== undefined) closeSync(held);
    held = undefined;
    base = identity;
    if (identity === undefined) return;
    try {
      held = openSync(file, 'r');
      const st = fstatSync(held);
      if (st.dev !== identity.dev || st.ino !== identity.ino) arm(); // replaced since it was read
    } catch {
      arm();
    }
  };

  seen(initial);
  start();
  return {
    seen,
    close() {
      closed = true;
      if (held !== undefined) closeSync(held);
      held = undefined;
      watcher?.close();
      watcher = undefined;
      if (debounce) clearTimeout(debounce);
      if (retry) clearTimeout(retry);
    },
  };
}
