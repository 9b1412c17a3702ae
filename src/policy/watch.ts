import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface PolicyWatcher {
  /** Stops watching; no callback runs after this returns. Idempotent. */
  close(): void;
}

export interface WatchOptions {
  /** Quiet period after the last event before the file is looked at. Default 200 ms. */
  readonly debounceMs?: number;
  /** How long to wait before watching again when the directory watch fails or goes away. Default 2 s. */
  readonly retryMs?: number;
  /** Told about watch failures (the watcher keeps retrying). */
  readonly onError?: (err: Error) => void;
}

// What the file says now: a content hash through any symlinks, or undefined while it is missing.
function fingerprint(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` when the content of `file` changes.
 *
 * Watches the file's DIRECTORY, not the file: editors and configuration management replace a file
 * by writing a new one and renaming it over the old (and Kubernetes flips a `..data` symlink), which
 * a watch on the old inode never reports. Any event in the directory arms a debounce; when it fires,
 * the file's content is hashed and `onChange` runs only if it differs from the last content seen.
 * A file that is missing (mid-replace, or deleted) does not trigger a call; its reappearance does.
 */
export function watchPolicyFile(file: string, onChange: () => void, opts: WatchOptions = {}): PolicyWatcher {
  const debounceMs = opts.debounceMs ?? 200;
  const retryMs = opts.retryMs ?? 2000;
  const dir = dirname(file);
  const name = basename(file);
  let last = fingerprint(file);
  let closed = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;

  const settle = () => {
    debounce = undefined;
    if (closed) return;
    const now = fingerprint(file);
    if (now === undefined || now === last) return;
    last = now;
    onChange();
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
      // A rename of the directory entry, a write through it or a symlink swap next to it all show up
      // here. The name is only a hint (it can be null, or a sibling such as `..data`), so every event
      // is checked against the content.
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

  start();
  return {
    close() {
      closed = true;
      watcher?.close();
      watcher = undefined;
      if (debounce) clearTimeout(debounce);
      if (retry) clearTimeout(retry);
    },
  };
}
