import { hostname } from 'node:os';
import t from 'tap';
import { registryUses } from '../../../../src/policy/checks/registries.js';
import { corpusRequests, envelope } from '../../../helpers/corpus.js';
import { defaultPolicy, policyFrom, request } from '../../../helpers/policy.js';

const checkOf = (rule: string) => policyFrom(`version: 1\nhello: { enabled: false }\nrules:\n  - ${rule}\n`).rules[0]!.check;
const defaults = defaultPolicy().rules.find((r) => r.id === 'registries')!.check;
const pull = (ref: string, tag = 'latest') =>
  request(envelope('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(ref)}&tag=${tag}`, undefined, { 'Content-Length': '0' }));
const login = (serveraddress: string) => request(envelope('POST', '/v1.41/auth', { username: 'u', password: 's3cret', serveraddress }));

t.test('pulls from public registries by name stay allowed', async (t) => {
  for (const ref of [
    'busybox',
    'library/alpine',
    'someone/app',
    'docker.io/library/nginx',
    'ghcr.io/org/app',
    'quay.io/a/b',
    'registry.example.com:5000/x',
    'mcr.microsoft.com/dotnet/sdk',
  ])
    t.equal(defaults(pull(ref)), undefined, ref);
  t.equal(defaults(request(corpusRequests('59', 'images/create')[0]!)) !== undefined, true, 'the captured pull of localhost:1 is refused');
});

t.test('every spelling of this host is refused, in pulls', async (t) => {
  const onHost = [
    '127.0.0.1:5999/x',
    '127.0.0.1/x',
    '127.9.8.7:80/x',
    'localhost:5999/x',
    'localhost/x',
    'LOCALHOST:5999/x',
    'LocalHost/x',
    'x.localhost:5999/x',
    'localhost.localdomain/x',
    'ip6-localhost:5000/x',
    '0.0.0.0:5999/x',
    '0:5999/x',
    '2130706433:5999/x',
    '0x7f000001:5999/x',
    '0x7F.1:5999/x',
    '127.1:5999/x',
    '0177.0.0.1:5999/x',
    '[::1]:5999/x',
    '[::]:5999/x',
    '[0:0:0:0:0:0:0:1]:5999/x',
    '[::ffff:127.0.0.1]:5999/x',
    '[::ffff:7f00:1]:5999/x',
    '[::1%25lo]:5999/x',
    `${hostname()}:5000/x`,
  ];
  for (const ref of onHost)
    t.match(defaults(pull(ref)), { field: 'docker pull (fromImage)', reason: /the daemon would talk to services on this host/ }, ref);
  t.match(defaults(pull('127.0.0.1:5999/x')), {
    reason:
      '"127.0.0.1:5999/x" goes to registry "127.0.0.1:5999", a loopback address: the daemon would talk to services on this host (allowed registries: any not on this host)',
  });
  t.match(defaults(pull('169.254.169.254/latest')), { reason: /denied list/ }, 'link-local (cloud metadata) is on the default denied list');
  t.equal(defaults(pull('10.0.0.5:5000/x')), undefined, 'other private addresses are ordinary registries');
  t.equal(defaults(pull('127.0.0.1:5999')), undefined, 'without a slash it is a Docker Hub image');
});

t.test('pushes, searches, plugin installs and logins are judged the same way', async (t) => {
  const req = (method: string, uri: string, body?: unknown) =>
    request(envelope(method, uri, body, body === undefined ? { 'Content-Length': '0' } : {}));
  const cases: [ReturnType<typeof request>, string][] = [
    [req('POST', '/v1.41/images/localhost:5000/x/push?tag=1'), 'docker push (name)'],
    [req('GET', '/v1.41/images/search?term=127.0.0.1%3A5000%2Fx'), 'docker search (term)'],
    [req('GET', '/v1.41/distribution/127.0.0.1:5000/x/json'), 'registry lookup (name)'],
    [req('POST', '/v1.41/plugins/pull?remote=localhost%3A5000%2Fp&name=p', []), 'docker plugin install (remote)'],
    [req('GET', '/v1.41/plugins/privileges?remote=localhost%3A5000%2Fp'), 'docker plugin install (remote)'],
    [req('POST', '/v1.41/plugins/p/upgrade?remote=localhost%3A5000%2Fp', []), 'docker plugin upgrade (remote)'],
    [req('POST', '/v1.41/plugins/localhost:5000/p/push'), 'docker plugin push (name)'],
    [
      req('POST', '/v1.41/services/create', { TaskTemplate: { ContainerSpec: { Image: '127.0.0.1:5000/x' } } }),
      '--image (TaskTemplate.ContainerSpec.Image)',
    ],
    [login('127.0.0.1:5999'), 'docker login (serveraddress)'],
  ];
  for (const [r, field] of cases) t.match(defaults(r), { field }, `${r.op} ${field}`);
  t.equal(defaults(req('POST', '/v1.41/images/registry.example.com/x/push?tag=1')), undefined);
  t.equal(defaults(req('GET', '/v1.41/images/search?term=nginx')), undefined);
  t.equal(defaults(req('POST', '/v1.41/images/x/tag?repo=localhost%3A5000%2Fx&tag=1')), undefined, 'tagging contacts no registry');
});

t.test('logins: the address as the daemon reads it, never the credentials', async (t) => {
  for (const address of [
    'http://127.0.0.1:5999',
    'https://user:pw@localhost:5999/v2/',
    '[::1]:5999',
    'http://[::ffff:127.0.0.1]:5999',
    'localhost.:5999',
  ]) {
    const v = defaults(login(address));
    t.match(v, { field: 'docker login (serveraddress)' }, address);
    t.notMatch(JSON.stringify(v), /s3cret|pw@|user/, 'no credentials in the message');
  }
  t.equal(defaults(login('')), undefined, 'Docker Hub');
  t.equal(defaults(login('https://index.docker.io/v1/')), undefined);
  t.equal(defaults(login('registry.example.com')), undefined);
  t.match(
    defaults(request(corpusRequests('61', '/auth')[0]!)),
    { field: 'docker login (serveraddress)' },
    'the captured login to localhost:1',
  );
  const hidden = request(envelope('POST', '/v1.41/auth', undefined, { 'Content-Type': 'application/json', 'Content-Length': '74' }));
  t.match(defaults(hidden), { reason: /did not show to the plugin/ }, 'a login body the daemon withheld');
  t.equal(checkOf('{ id: r, kind: registries, allowUnseenLogins: true }')(hidden), undefined);
});

t.test('allowed and denied lists: names, wildcards, ports, IPs and blocks', async (t) => {
  const only = checkOf('{ id: r, kind: registries, allowed: [docker.io, "*.example.com", "registry.internal:5000", 10.1.0.0/16] }');
  t.equal(only(pull('busybox')), undefined);
  t.equal(only(pull('ghcr.io/x/y')) !== undefined, true);
  t.equal(only(pull('a.example.com/x')), undefined);
  t.equal(only(pull('example.com/x')) !== undefined, true, 'the wildcard covers subdomains only');
  t.equal(only(pull('registry.internal:5000/x')), undefined);
  t.equal(only(pull('registry.internal:5001/x')) !== undefined, true, 'a port in the entry must match');
  t.equal(only(pull('10.1.2.3:5000/x')), undefined);
  t.equal(only(pull('167838211:5000/x')) !== undefined, true, 'an inet_aton spelling of 10.1.2.3 is a name, and names need listing');
  t.match(only(pull('ghcr.io/x/y')), { reason: /is not allowed \(allowed registries: docker\.io, \*\.example\.com/ });
  const local = checkOf('{ id: r, kind: registries, allowed: ["localhost:5000"] }');
  t.equal(local(pull('localhost:5000/cache')), undefined, 'listing a registry on this host allows it');
  t.equal(local(pull('127.0.0.1:5000/cache')) !== undefined, true, 'but only that spelling');
  const denied = checkOf('{ id: r, kind: registries, denied: [10.0.0.0/8, "bad.example.com"] }');
  t.match(denied(pull('10.9.9.9/x')), { reason: /denied list/ });
  t.match(denied(pull('012.1/x')), { reason: /denied list/ }, 'a denied block matches inet_aton spellings too');
  t.match(denied(pull('BAD.example.com/x')), { reason: /denied list/ });
  t.equal(denied(pull('good.example.com/x')), undefined);
});

t.test('which registries a request uses', async (t) => {
  t.same(registryUses(pull('ghcr.io/a/b')), [{ field: 'docker pull (fromImage)', value: 'ghcr.io/a/b', registry: 'ghcr.io' }]);
  t.same(
    registryUses(request(envelope('POST', '/v1.41/images/create?fromSrc=-&repo=x', 'tar'))),
    [],
    'an import from the body contacts no registry',
  );
  t.same(registryUses(request(envelope('GET', '/v1.41/containers/json'))), []);
});

t.test('policy entries are validated', async (t) => {
  t.throws(() => policyFrom('version: 1\nrules:\n  - { id: r, kind: registries, allowed: ["http://x"] }\n'), /registry name/);
  t.throws(() => policyFrom('version: 1\nrules:\n  - { id: r, kind: registries, denied: ["10.0.0.0/33"] }\n'));
  t.doesNotThrow(() =>
    policyFrom('version: 1\nrules:\n  - { id: r, kind: registries, denied: ["[fd00::]/8", "::1", "[::1]:5000", "Example.COM"] }\n'),
  );
});
