import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDb, STATE_FILE } from '../../../src/state/db.js';

t.test('creates the directory and the database, in WAL mode, and migrates once', async (t) => {
  const dir = join(t.testdir({}), 'state');
  const { db, notes } = openDb(dir);
  t.teardown(() => db.close());
  t.same(notes, []);
  t.ok(existsSync(join(dir, STATE_FILE)));
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  const version = db.pragma('user_version', { simple: true });
  t.ok(Number(version) >= 1);
  const again = openDb(dir);
  t.equal(again.db.pragma('user_version', { simple: true }), version, 'a second open (another worker) does not migrate again');
  again.db.close();
});

t.test('two connections (two workers) see each other’s commits at once', async (t) => {
  const dir = t.testdir({});
  const a = openDb(dir).db;
  const b = openDb(dir).db;
  t.teardown(() => {
    a.close();
    b.close();
  });
  a.prepare('INSERT INTO greetings (identity, at) VALUES (?, ?)').run('alice', 'now');
  t.equal(b.prepare('SELECT count(*) FROM greetings').pluck().get(), 1);
});

t.test('leftovers of interrupted writes by older versions are removed', async (t) => {
  const dir = t.testdir({ 'hello.json.1234.tmp': '{"version":1', 'keep.tmp': 'not ours' });
  const { db, notes } = openDb(dir);
  t.teardown(() => db.close());
  t.match(notes, [/removed hello\.json\.1234\.tmp/]);
  t.notOk(existsSync(join(dir, 'hello.json.1234.tmp')));
  t.ok(existsSync(join(dir, 'keep.tmp')), 'only our own leftovers');
});

t.test('a file that is not a database is moved aside and a new one is started (fails closed)', async (t) => {
  const dir = t.testdir({ [STATE_FILE]: 'this is not sqlite '.repeat(100) });
  const { db, notes } = openDb(dir);
  t.teardown(() => db.close());
  t.match(notes, [/not a usable database .* moved to .*state\.db\.corrupt-\d+/]);
  t.equal(db.prepare('SELECT count(*) FROM greetings').pluck().get(), 0, 'nobody is greeted');
  t.ok(
    readdirSync(dir).some((f) => f.startsWith(`${STATE_FILE}.corrupt-`)),
    'kept for inspection',
  );
});

t.test('a directory that cannot be used is a coded error, not a crash', async (t) => {
  const base = t.testdir({ 'a-file': 'x' });
  t.throws(() => openDb(join(base, 'a-file')), { code: 'AUTHZ_STATE_UNAVAILABLE', message: /cannot use the state database/ });
  mkdirSync(join(base, 'dir', STATE_FILE), { recursive: true });
  t.throws(() => openDb(join(base, 'dir')), { code: 'AUTHZ_STATE_UNAVAILABLE' }, 'state.db is a directory');
});
