import t from 'tap';
import { canonicalHostPath, isWithin } from '../../../src/policy/host-path.js';

t.test('normalises like the kernel resolves', async (t) => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['//etc//', '/etc'],
    ['/srv/data/', '/srv/data'],
    ['/srv/./data/../data', '/srv/data'],
    ['/../..', '/'],
    ['/var/run/docker.sock', '/run/docker.sock'],
    ['/var/run', '/run'],
    ['/var/runner', '/var/runner'],
    ['', '/'],
  ];
  for (const [input, want] of cases) t.equal(canonicalHostPath(input), want, input);
});

t.test('a directory admits itself and below, not its parent or a prefix sibling', async (t) => {
  t.ok(isWithin('/srv/data', '/srv/data'));
  t.ok(isWithin('/srv/data/x', '/srv/data'));
  t.notOk(isWithin('/srv/data2', '/srv/data'));
  t.notOk(isWithin('/srv', '/srv/data'));
  t.ok(isWithin('/anything', '/'));
});
