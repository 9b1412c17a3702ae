/**
 * The policy watcher against a real directory and real inotify events: in-place writes, editor-style
 * replace-by-rename, Kubernetes-style symlink swaps, unrelated files, and close().
 *
 * No sleeps: every step waits for the callback (with a deadline) and checks what the file said
 * when the callback ran. "No extra call" is proved with a sentinel: after the step under test, a
 * second, different change is made and the NEXT callback must see the sentinel content; any
 * spurious callback in between would have recorded something else.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { watchPolicyFile, type PolicyWatcher } from '../../../src/policy/watch.js';

interface Probe {
  readonly seen: string[];
  readonly errors: Error[];
  /** Resolves with the content recorded by callback number `n` (1-based). */
  call(n: number, timeoutMs?: number): Promise<string>;
  readonly watcher: PolicyWatcher;
}

function setup(t: Test, file: string, debounceMs = 100): Probe {
  const seen: string[] = [];
  const errors: Error[] = [];
  const waiters: { n: number; resolve: (s: string) => void }[] = [];
  const watcher = watchPolicyFile(
    file,
    () => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        text = `<unreadable: ${(err as Error).message}>`;
      }
      seen.push(text);
      for (const w of waiters.filter((w) => w.n <= seen.length)) w.resolve(seen[w.n - 1]!);
    },
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

t.test('an in-place write triggers one call, after the content changed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  writeFileSync(file, 'v2\n');
  t.equal(await p.call(1), 'v2\n', 'callback sees the new content');
  writeFileSync(file, 'sentinel\n');
  t.equal(await p.call(2), 'sentinel\n', 'the next callback is the sentinel: no duplicate for the first write');
  t.same(p.errors, [], 'no watch errors');
});

t.test('a replace by rename (editor, config management) is seen although the watched inode is gone', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  replaceByRename(file, 'v2\n');
  t.equal(await p.call(1), 'v2\n');
  replaceByRename(file, 'v3\n');
  t.equal(await p.call(2), 'v3\n', 'a second rename is seen too (the directory watch survives)');
});

t.test('a burst of writes within the debounce window gives one call with the final content', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v0\n');
  // Long enough that the synchronous burst below always falls inside one window.
  const p = setup(t, file, 500);
  for (let i = 1; i <= 20; i++) replaceByRename(file, `burst ${i}\n`);
  t.equal(await p.call(1), 'burst 20\n', 'the call sees the last write of the burst');
  writeFileSync(file, 'sentinel\n');
  t.equal(await p.call(2), 'sentinel\n', 'the burst produced exactly one call');
});

t.test('an event that does not change the content does not call back', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'same\n');
  const p = setup(t, file, 100);
  // A witness on a sibling file with a longer debounce: when it fires, the policy watcher has
  // settled on the same events (its debounce is shorter), so anything it was going to do is done.
  const witness = setup(t, join(dir, 'witness.txt'), 300);
  writeFileSync(file, 'same\n'); // touched, same bytes
  writeFileSync(join(dir, 'notes.txt'), 'unrelated file in the same directory\n');
  replaceByRename(join(dir, 'other.yaml'), 'another file\n');
  writeFileSync(join(dir, 'witness.txt'), 'w1\n');
  t.equal(await witness.call(1), 'w1\n', 'the witness saw its change');
  t.same(p.seen, [], 'rewriting equal bytes and touching siblings did not call back');
  writeFileSync(file, 'changed\n');
  t.equal(await p.call(1), 'changed\n', 'a real change still does');
});

t.test('a deleted file does not call back; its reappearance does', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const p = setup(t, file);
  unlinkSync(file);
  // Delete-then-write (some editors): the callback must only see the file once it is back.
  writeFileSync(file, 'v2\n');
  t.equal(await p.call(1), 'v2\n', 'no call saw a missing file');
  unlinkSync(file);
  writeFileSync(join(dir, 'unrelated'), 'x');
  writeFileSync(file, 'v3\n');
  t.equal(await p.call(2), 'v3\n', 'a deletion alone produced no call');
});

t.test('a symlink swap next to the file (Kubernetes ConfigMap ..data) is seen', async (t) => {
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
  t.equal(await p.call(1), 'v2\n', 'the call follows the symlinks to the new content');
  t.equal(readFileSync(file, 'utf8'), 'v2\n');
});

t.test('close() stops all calls, including a pending debounce', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'v1\n');
  const closed = setup(t, file, 100);
  // Armed but not yet fired when closed; a second watcher on the same file proves events happened.
  const witness = setup(t, file, 300);
  writeFileSync(file, 'v2\n');
  closed.watcher.close();
  closed.watcher.close(); // idempotent
  t.equal(await witness.call(1), 'v2\n', 'the change was delivered to a live watcher');
  t.same(closed.seen, [], 'the closed watcher never called back (its debounce was shorter than the witness)');
});
