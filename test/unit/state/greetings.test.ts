import t, { type Test } from 'tap';
import { Greetings } from '../../../src/state/greetings.js';
import { StateStore } from '../../../src/state/store.js';

function open(t: Test, dir: string): Greetings {
  const state = new StateStore(dir);
  t.teardown(() => state.close());
  return new Greetings(state);
}

t.test('greetings persist across reopen (restart); reset forgets them', async (t) => {
  const dir = t.testdir({});
  const g = open(t, dir);
  t.notOk(g.isGreeted('@anonymous'));
  t.notOk(g.anyGreeted);
  t.equal(g.greet('@anonymous', new Date('2026-01-01T00:00:00Z')), true);
  t.equal(g.greet('@anonymous'), false, 'a repeated greeting is not new and keeps its time');
  g.greet('alice', new Date('2026-01-02T00:00:00Z'));
  const reopened = open(t, dir);
  t.ok(reopened.isGreeted('@anonymous') && reopened.isGreeted('alice') && reopened.anyGreeted);
  t.same(reopened.list(), [
    { identity: '@anonymous', at: '2026-01-01T00:00:00.000Z' },
    { identity: 'alice', at: '2026-01-02T00:00:00.000Z' },
  ]);
  t.same(reopened.reset(['alice', 'nobody']), ['alice']);
  t.notOk(g.isGreeted('alice'), 'the other connection sees the reset at once');
  t.same(reopened.reset(), ['@anonymous']);
  t.notOk(g.anyGreeted);
});

t.test('two connections greeting different identities lose none', async (t) => {
  const dir = t.testdir({});
  const a = open(t, dir);
  const b = open(t, dir);
  for (let i = 0; i < 500; i++) {
    a.greet(`a${i}`);
    b.greet(`b${i}`);
  }
  t.equal(a.list().length, 1000);
});
