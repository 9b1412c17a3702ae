import t from 'tap';
import { envelope } from '../../../helpers/corpus.js';
import { policyFrom, request } from '../../../helpers/policy.js';

const check = policyFrom('version: 1\nhello: { enabled: false }\nrules:\n  - { id: sc, kind: shared-containers }\n').rules[0]!.check;

t.test("a legacy build can run its steps in another container's network namespace", async (t) => {
  const build = (mode: string) =>
    request(envelope('POST', `/v1.41/build?networkmode=${encodeURIComponent(mode)}`, undefined, { 'Content-Type': 'application/x-tar' }));
  t.match(check(build('container:old')), { field: 'networkmode', reason: /another container's network namespace/ });
  t.match(check(build('Container:old')), { field: 'networkmode' }, 'stricter than the daemon: only ever denies more');
  t.equal(check(build('default')), undefined);
  t.equal(check(build('none')), undefined);
});
