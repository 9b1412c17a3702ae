/**
 * The policy watcher against a real directory and real inotify events: replace-by-rename (editors,
 * configuration management), Kubernetes-style symlink swaps, in-place writes (reported, never
 * "replaced"), unrelated files, deletion, and close().
 *
 * No sleeps: every step waits for the callback (with a deadline) and checks what the file said
 * when the callback ran. "No extra call" is proved with a sentinel: after the step under test, a
 * second, different change is made and the NEXT callback must see the sentinel; any spurious
 * callback in between would have recorded something else.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { FileIdentity } from '../../../src/policy/load.js';
import { watchPolicyFile, type PolicyWatcher } from '../../../src/policy/watch.js';

type Kind = 'replaced' | 'in-place';

interface Probe {
  readonly seen: string[];
  readonly errors: Error[];
  /** Resolves with `kind: content` recorded by callback number `n` (1-based). */
  call(n: number, timeoutMs?: number): Promise<string>;
  readonly watcher: PolicyWatcher;
}

function identity(file: string): FileIdentity | undefined {
  try {
    const st = statSync(file);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

// Acts like the policy lifecycle: after a replacement it reads the file and tells the watcher so.
function setup(t: Test, file: string, debounceMs = 100): Probe {
  const seen: string[] = [];
  const errors: Error[] = [];
  const waiters: { n: number; resolve: (s: string) => void }[] = [];
  const record = (kind: Kind) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      text = `<unreadable: ${(err as Error).message}>`;
    }
    if (kind === 'replaced') watcher.seen(identity(file));
    seen.push(`${kind}: ${text}`);
    for (const w of waiters.filter((w) => w.n <= seen.length)) w.resolve(seen[w.n - 1]!);
  };
  const watcher = watchPolicyFile(
    file,
    identity(file),
    { replaced: () => record('replaced'), modifiedInPlace: () => record('in-place') },
    { debounceMs, onError: (err) => errors.push(err) },
  );
  t.teardown(() => watcher.close());
  // Keeps the event loop alive while a test waits for a callback (the watcher itself does not).
  const call = (n: number, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      if (seen.length >= n) return resolve(seen[n - 1]!);
      const timer = setTimeout(
        () => reject(new Error(`no callback #${n} within ${timeoutMs} ms; seen ${JSON.stringify(seen)}`)),
        timeoutMs,
      );
      waiters.push({
        n,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
    });
  return { seen, errors, call, watcher };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Replace the way editors and configuration management do: write a sibling, rename it over.
function replaceByRename(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

t.test('a replace by rename is seen although the watched inode is gone', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  replaceByRename(file, 'v2\n');
  t.equal(await p.call(1), 'replaced: v2\n');
  replaceByRename(file, 'v3\n');
  t.equal(await p.call(2), 'replaced: v3\n', 'a second rename is seen too (the directory watch survives)');
  t.same(p.errors, [], 'no watch errors');
});

t.test('an in-place write is reported as such, never as a replacement, once per write', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  writeFileSync(file, 'half');
  t.equal(await p.call(1), 'in-place: half', 'a truncate-and-write is an in-place modification');
  replaceByRename(file, 'sentinel\n');
  t.equal(await p.call(2), 'replaced: sentinel\n', 'the next callback is the sentinel: one report per write');
});

t.test('a burst of replacements within the debounce window gives one call with the final content', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v0\n');
  // Long enough that the synchronous burst below always falls inside one window.
  const p = setup(t, file, 500);
  for (let i = 1; i <= 20; i++) replaceByRename(file, `burst ${i}\n`);
  t.equal(await p.call(1), 'replaced: burst 20\n', 'the call sees the last write of the burst');
  replaceByRename(file, 'sentinel\n');
  t.equal(await p.call(2), 'replaced: sentinel\n', 'the burst produced exactly one call');
});

t.test('touching siblings does not call back', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'same\n');
  const p = setup(t, file, 100);
  // A witness on a sibling file with a longer debounce: when it fires, the policy watcher has
  // settled on the same events (its debounce is shorter), so anything it was going to do is done.
  const witness = setup(t, join(dir, 'witness.txt'), 300);
  writeFileSync(join(dir, 'notes.txt'), 'unrelated file in the same directory\n');
  replaceByRename(join(dir, 'other.yaml'), 'another file\n');
  replaceByRename(join(dir, 'witness.txt'), 'w1\n');
  t.equal(await witness.call(1), 'replaced: w1\n', 'the witness saw its change');
  t.same(p.seen, [], 'siblings did not call back');
});

t.test('a deleted file does not call back; its reappearance is a replacement', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  unlinkSync(file);
  replaceByRename(file, 'v2\n');
  t.equal(await p.call(1), 'replaced: v2\n', 'no call saw a missing file');
  unlinkSync(file);
  writeFileSync(join(dir, 'unrelated'), 'x');
  replaceByRename(file, 'v3\n');
  t.equal(await p.call(2), 'replaced: v3\n', 'a deletion alone produced no call');
});

t.test('a symlink swap next to the file (Kubernetes ConfigMap ..data) is a replacement', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, '..v1'));
  writeFileSync(join(dir, '..v1', 'policy.yaml'), 'v1\n');
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync('..data/policy.yaml', join(dir, 'policy.yaml'));
  const file = join(dir, 'policy.yaml');
  const p = setup(t, file);
  mkdirSync(join(dir, '..v2'));
  writeFileSync(join(dir, '..v2', 'policy.yaml'), 'v2\n');
  symlinkSync('..v2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  t.equal(await p.call(1), 'replaced: v2\n', 'the call follows the symlinks to the new content');
});

t.test('close() stops all calls, including a pending debounce', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const closed = setup(t, file, 100);
  // Armed but not yet fired when closed; a second watcher on the same file proves events happened.
  const witness = setup(t, file, 300);
  replaceByRename(file, 'v2\n');
  closed.watcher.close();
  closed.watcher.close(); // idempotent
  t.equal(await witness.call(1), 'replaced: v2\n', 'the change was delivered to a live watcher');
  t.same(closed.seen, [], 'the closed watcher never called back (its debounce was shorter than the witness)');
});
