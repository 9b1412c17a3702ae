import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openHelloStore } from '../../../src/state/hello-store.js';

t.test('greetings persist across reopen (restart) and reset forgets them', async (t) => {
  const dir = t.testdir({});
  const { store } = openHelloStore(dir);
  t.notOk(store.isGreeted('@anonymous'));
  t.notOk(store.anyGreeted);
  await store.greet('@anonymous', new Date('2026-01-01T00:00:00Z'));
  await store.greet('alice');
  t.ok(store.isGreeted('@anonymous'));
  const reopened = openHelloStore(dir).store;
  t.ok(reopened.isGreeted('@anonymous') && reopened.isGreeted('alice'));
  t.same(
    reopened.list().find((g) => g.identity === '@anonymous'),
    { identity: '@anonymous', at: '2026-01-01T00:00:00.000Z' },
  );
  t.same(await reopened.reset('alice'), ['alice']);
  t.same(await reopened.reset('nobody'), []);
  t.notOk(openHelloStore(dir).store.isGreeted('alice'));
  t.same(await reopened.reset(), ['@anonymous']);
  t.notOk(openHelloStore(dir).store.anyGreeted);
  t.same(readdirSync(dir), ['hello.json'], 'no temporary files are left behind');
});

t.test('concurrent greetings all land on disk', async (t) => {
  const dir = t.testdir({});
  const { store } = openHelloStore(dir);
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.greet(`u${i}`)));
  const onDisk = JSON.parse(readFileSync(join(dir, 'hello.json'), 'utf8')) as { greeted: Record<string, unknown> };
  t.equal(Object.keys(onDisk.greeted).length, 20);
});

t.test('a damaged state file fails closed and is kept aside', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'hello.json'), '{"version":1,"greeted":');
  const { store, warning } = openHelloStore(dir);
  t.notOk(store.anyGreeted, 'nobody is greeted');
  t.match(warning, /unreadable/);
  t.ok(readdirSync(dir).some((f) => f.startsWith('hello.json.corrupt-')));
  t.notOk(existsSync(join(dir, 'hello.json')));
});
