import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Greetings } from '../../../src/state/greetings.js';
import { StateStore } from '../../../src/state/store.js';

const HELLO = JSON.stringify({
  version: 1,
  greeted: { '@anonymous': { at: '2026-01-01T00:00:00.000Z' }, alice: { at: '2026-01-02T00:00:00.000Z' } },
});

function open(t: Test, dir: string) {
  const notes: string[] = [];
  const state = new StateStore(dir, { onNote: (m) => notes.push(m) });
  t.teardown(() => state.close());
  return { greetings: new Greetings(state), notes };
}

t.test("an older version's hello.json is imported once, then kept as hello.json.imported", async (t) => {
  const dir = t.testdir({ 'hello.json': HELLO });
  const { greetings, notes } = open(t, dir);
  t.match(notes, [/imported 2 greeting/]);
  t.same(
    greetings.list().map((g) => g.identity),
    ['@anonymous', 'alice'],
  );
  t.notOk(existsSync(join(dir, 'hello.json')));
  t.ok(existsSync(join(dir, 'hello.json.imported')));
  t.same(open(t, dir).notes, [], 'nothing to import the second time');
});

t.test('a damaged hello.json fails closed and is kept aside; a directory in its place is ignored', async (t) => {
  const dir = t.testdir({ 'hello.json': '{"version":1,"greeted":' });
  const { greetings, notes } = open(t, dir);
  t.match(notes, [/unreadable and was moved to/]);
  t.notOk(greetings.anyGreeted);
  t.ok(readdirSync(dir).some((f) => f.startsWith('hello.json.corrupt-')));

  const dir2 = t.testdir({});
  mkdirSync(join(dir2, 'hello.json'));
  const second = open(t, dir2);
  t.match(second.notes, [/is not a file; it was ignored/]);
  t.same(second.greetings.list(), [], 'the plugin still starts with an empty state');
});
