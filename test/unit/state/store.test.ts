import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Greetings } from '../../../src/state/greetings.js';
import { StateStore } from '../../../src/state/store.js';

t.test('an unusable state directory fails closed, says why, and recovers once fixed', async (t) => {
  const base = t.testdir({});
  const dir = join(base, 'state');
  writeFileSync(dir, 'a file where the directory should be');
  const errors: string[] = [];
  let recovered: () => void = () => undefined;
  const back = new Promise<void>((r) => (recovered = r));
  const state = new StateStore(dir, { onError: (m) => errors.push(m), onRecover: () => recovered() }, 50);
  t.teardown(() => state.close());
  const greetings = new Greetings(state);

  t.equal(greetings.isGreeted('alice'), false, 'reads answer "not greeted"');
  t.equal(greetings.anyGreeted, false);
  t.match(greetings.unavailable, /cannot use the state database/);
  t.throws(() => greetings.greet('alice'), { code: 'AUTHZ_STATE_UNAVAILABLE' }, 'writes throw');
  t.match(state.health(), { ok: false, error: /cannot use the state database/ });
  t.equal(errors.length, 1, 'the same failure is reported once, not at every retry');
  t.match(errors[0], /failing closed and retrying/);

  rmSync(dir);
  mkdirSync(dir);
  // The retry timer does not hold the process open (a plugin never waits on it); this test does.
  const alive = setInterval(() => undefined, 1000);
  await back;
  clearInterval(alive);
  t.equal(greetings.unavailable, undefined);
  t.equal(greetings.greet('alice'), true);
  t.equal(greetings.isGreeted('alice'), true);
  t.match(state.health(), { ok: true });
});

t.test('close() stops retrying and makes reads fail closed', async (t) => {
  const state = new StateStore(t.testdir({}));
  const greetings = new Greetings(state);
  greetings.greet('bob');
  state.close();
  t.equal(greetings.isGreeted('bob'), false);
  t.throws(() => greetings.list(), { code: 'AUTHZ_STATE_UNAVAILABLE' });
});
