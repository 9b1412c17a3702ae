import t from 'tap';
import { recordOutcome } from '../../../src/protocol/record.js';
import { ObjectStore } from '../../../src/state/objects.js';
import { StateStore } from '../../../src/state/store.js';
import { envelope } from '../../helpers/corpus.js';
import { request } from '../../helpers/policy.js';

const A = 'a'.repeat(64);
const E = 'e'.repeat(64);
const N = 'c'.repeat(64);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

function answered(user: string, method: string, uri: string, body: unknown, status: number, response?: unknown) {
  const env = {
    ...envelope(method, uri, body),
    User: user,
    ResponseStatusCode: status,
    ...(response !== undefined && { ResponseBody: b64(response) }),
  };
  return { env, req: request(env) };
}

t.test('what the daemon confirmed is recorded: creates with their owner, renames, removals', async (t) => {
  const store = new StateStore(t.testdir({}));
  t.teardown(() => store.close());
  const objects = new ObjectStore(store);
  const record = (r: ReturnType<typeof answered>) => recordOutcome(r.env, r.req, objects);

  record(
    answered('bob', 'POST', '/v1.41/containers/create?name=%2Fweb', { Image: 'busybox', HostConfig: { Binds: ['data:/d'] } }, 201, {
      Id: A,
      Warnings: [],
    }),
  );
  t.match(objects.container('web'), { ok: true, record: { id: A, owner: 'bob' } }, 'the leading slash of a name is not part of it');
  t.match(objects.volume('data'), { owner: 'bob' }, 'a named volume the create made');

  record(answered('bob', 'POST', '/v1.41/containers/web/exec', { Cmd: ['sh'] }, 201, { Id: E }));
  t.match(objects.exec(E), { ok: true, record: { owner: 'bob', parent: A } });

  record(answered('alice', 'POST', '/v1.41/volumes/create', { Name: 'data' }, 201, { Name: 'data', Driver: 'local' }));
  t.match(objects.volume('data'), { owner: 'bob' }, 'creating an existing volume returns it: it does not change hands');
  record(answered('alice', 'POST', '/v1.41/networks/create', { Name: 'backend' }, 201, { Id: N, Warning: '' }));
  t.match(objects.network('backend'), { ok: true, record: { id: N, owner: 'alice' } });

  record(answered('bob', 'POST', '/v1.41/containers/aaaa/rename?name=web2', undefined, 204));
  t.match(objects.container('web2'), { ok: true, record: { id: A } });
  record(answered('bob', 'POST', '/v1.41/containers/create?name=x', { Image: 'busybox' }, 400));
  t.match(objects.container('x'), { ok: false }, 'a refused create records nothing');

  record(answered('bob', 'DELETE', '/v1.41/containers/web2', undefined, 204));
  t.match(objects.container(A), { ok: false }, 'removed');
  t.match(objects.exec(E), { ok: false }, 'its execs went with it');
  record(answered('alice', 'DELETE', '/v1.41/networks/backend', undefined, 204));
  t.match(objects.network(N), { ok: false });
  record(answered('bob', 'DELETE', '/v1.41/volumes/data', undefined, 204));
  t.equal(objects.volume('data'), undefined);
});
