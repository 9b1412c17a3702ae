import t, { type Test } from 'tap';
import { ObjectStore } from '../../../src/state/objects.js';
import { StateStore } from '../../../src/state/store.js';

const A = 'a'.repeat(64);
const AB = `ab${'0'.repeat(62)}`;
const B = 'b'.repeat(64);

function open(t: Test, dir = t.testdir({})): ObjectStore {
  const state = new StateStore(dir);
  t.teardown(() => state.close());
  return new ObjectStore(state);
}

t.test('containers resolve as the daemon resolves them: full ID, then exact name, then a unique prefix', async (t) => {
  const o = open(t);
  o.created({ kind: 'container', id: A, name: 'web', owner: 'alice' });
  o.created({ kind: 'container', id: AB, name: 'db', owner: 'bob' });
  // A container NAMED like a prefix of another's ID: the name wins, as in moby.
  o.created({ kind: 'container', id: B, name: 'ab', owner: 'carol' });
  t.match(o.container(A), { ok: true, record: { owner: 'alice' } });
  t.match(o.container('web'), { ok: true, record: { id: A } });
  t.match(o.container('/web'), { ok: true, record: { id: A } }, 'with the leading slash');
  t.match(o.container('ab'), { ok: true, record: { id: B } }, 'exact name before ID prefix');
  t.match(o.container('abc'), { ok: false, why: /no container/ });
  t.match(o.container('a'), { ok: false, why: /ambiguous/ }, 'a prefix of two IDs');
  t.match(o.container('aaaa'), { ok: true, record: { id: A } });
  t.match(o.container('AAAA'), { ok: false }, 'IDs are lowercase: no case-insensitive prefix');
  t.match(o.container('a%'), { ok: false }, 'no SQL pattern characters');
  t.match(o.container(''), { ok: false });
});

t.test('renames move the name; a name is held by one container', async (t) => {
  const o = open(t);
  o.created({ kind: 'container', id: A, name: 'web', owner: 'alice' });
  o.renamed('container', A, 'web-old');
  t.match(o.container('web'), { ok: false });
  t.match(o.container('web-old'), { ok: true, record: { id: A, owner: 'alice' } });
  o.created({ kind: 'container', id: B, name: 'web-old', owner: 'bob' });
  t.match(o.container('web-old'), { ok: true, record: { id: B, owner: 'bob' } }, 'a newer container with the name takes it');
});

t.test('an owner is set once: a container first seen without one gets it; a volume never changes hands', async (t) => {
  const o = open(t);
  o.created({ kind: 'container', id: A, name: 'web', owner: null });
  o.created({ kind: 'container', id: A, owner: 'alice' });
  o.created({ kind: 'container', id: A, owner: 'mallory' });
  t.match(o.container(A), { ok: true, record: { owner: 'alice', name: 'web' } });
  o.created({ kind: 'volume', id: 'data', owner: 'bob' });
  o.created({ kind: 'volume', id: 'data', owner: 'alice' }); // "create" of an existing volume answers 201 too
  t.match(o.volume('data'), { owner: 'bob' });
  o.reconcile('volume', [{ id: 'data' }, { id: 'old' }]);
  t.match(o.volume('old'), { owner: null }, 'one found on the daemon without a record has no owner');
  o.created({ kind: 'volume', id: 'old', owner: 'alice' });
  t.match(o.volume('old'), { owner: null }, 'and nobody takes it by "creating" it');
});

t.test("anonymous volumes get their container's owner once it is known", async (t) => {
  const o = open(t);
  o.created({ kind: 'volume', id: 'f00', owner: null, parent: A });
  o.created({ kind: 'container', id: A, owner: 'alice' });
  t.match(o.volume('f00'), { owner: 'alice' });
});

t.test('removal and reconcile; execs go with their container; networks by name or prefix', async (t) => {
  const o = open(t);
  o.created({ kind: 'container', id: A, owner: 'alice' });
  o.created({ kind: 'exec', id: B, owner: 'alice', parent: A });
  t.match(o.exec(B), { ok: true });
  t.match(o.exec('bbbb'), { ok: false }, 'no prefix for execs');
  o.removed('container', [A]);
  t.match(o.exec(B), { ok: false });
  o.created({ kind: 'network', id: A, name: 'net', owner: 'bob' });
  o.created({ kind: 'network', id: B, name: 'net', owner: 'carol' });
  t.match(o.network('net'), { ok: false, why: /ambiguous/ });
  t.match(o.network('bb'), { ok: true, record: { owner: 'carol' } });
  o.reconcile('network', [{ id: B, name: 'net' }]);
  t.match(o.network('net'), { ok: true, record: { id: B } });
  t.ok(o.adopt('network', B, 'dave') === false, 'adopt only takes objects without an owner');
  t.ok(o.adopt('network', B, 'dave', true));
  t.match(o.network(B), { ok: true, record: { owner: 'dave' } });
});

t.test('an unreadable database resolves nothing', async (t) => {
  const state = new StateStore(t.testdir({}));
  const o = new ObjectStore(state);
  o.created({ kind: 'container', id: A, owner: 'alice' });
  state.close();
  t.match(o.container(A), { ok: false, why: /cannot read its state/ });
  t.equal(o.volume('x'), 'unreadable');
});

t.test('resolutions are remembered until anyone writes: this worker, another worker, the CLI', async (t) => {
  const dir = t.testdir({});
  const a = open(t, dir);
  const b = open(t, dir); // another worker: its own connection to the same database
  a.created({ kind: 'container', id: A, name: 'x', owner: 'alice' });
  t.match(a.container('x'), { ok: true, record: { owner: 'alice' } });
  t.match(b.container('x'), { ok: true, record: { owner: 'alice' } });
  b.removed('container', [A]);
  b.created({ kind: 'container', id: B, name: 'x', owner: 'bob' });
  t.match(a.container('x'), { ok: true, record: { id: B, owner: 'bob' } }, "another connection's commit is seen at once");
  a.renamed('container', B, 'y');
  t.match(a.container('x'), { ok: false }, "this connection's own write is seen at once");
  t.match(b.container('y'), { ok: true, record: { id: B } });
  t.equal(a.volume('v'), undefined);
  b.created({ kind: 'volume', id: 'v', owner: 'bob' });
  t.match(a.volume('v'), { owner: 'bob' });
});

t.test('reconcile keeps what was created after the daemon was asked', async (t) => {
  const o = open(t);
  o.created({ kind: 'container', id: A, name: 'gone', owner: 'alice' });
  const listedAt = new Date(Date.now() + 1).toISOString();
  // Confirmed (AuthZRes) after the listing: not in it, but new.
  o.created({ kind: 'container', id: B, name: 'new', owner: 'bob' });
  // Stand in for "created after listedAt" without waiting on the clock.
  o.reconcile('container', [], new Date(Date.now() - 60_000).toISOString());
  t.match(o.container(B), { ok: true, record: { owner: 'bob' } }, 'newer than the listing: kept');
  o.reconcile('container', [], listedAt);
  t.match(o.container('gone'), { ok: false }, 'older than the listing and not in it: gone');
});
