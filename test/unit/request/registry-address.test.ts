import t from 'tap';
import { loginRegistry, referenceRegistry, searchRegistry, splitHostPort } from '../../../src/request/registry-address.js';

t.test('the registry of a reference, as ParseNormalizedNamed splits it', async (t) => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io'],
    ['library/busybox:1.36', 'docker.io'],
    ['someone/app', 'docker.io'],
    ['docker.io/library/busybox', 'docker.io'],
    ['index.docker.io/library/busybox', 'docker.io'],
    ['ghcr.io/org/app:1', 'ghcr.io'],
    ['quay.io/org/app@sha256:abc', 'quay.io'],
    ['localhost/app', 'localhost'],
    ['localhost:5000/app', 'localhost:5000'],
    ['LOCALHOST:5000/app', 'LOCALHOST:5000'],
    ['Localhost/app', 'Localhost', 'an upper-case first component is a registry (newer parsers)'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000'],
    ['127.1:5000/a', '127.1:5000'],
    ['2130706433:5000/a', '2130706433:5000'],
    ['[::1]:5000/a', '[::1]:5000'],
    ['registry:5000/x', 'registry:5000'],
    ['localhost', 'docker.io', 'no slash: a Docker Hub image named localhost'],
    ['127.0.0.1:5000', 'docker.io', 'no slash: an image "127.0.0.1" tagged 5000'],
  ].map((c) => [c[0]!, c[1]!]);
  for (const [ref, want] of cases) t.equal(referenceRegistry(ref), want, ref);
  t.equal(searchRegistry('127.0.0.1:5000/x'), '127.0.0.1:5000');
  t.equal(searchRegistry('nginx'), 'docker.io');
});

t.test("the registry of a login, as the daemon's registry service reads serveraddress", async (t) => {
  const cases: [string, string, string?][] = [
    ['', 'docker.io'],
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['registry.example.com', 'registry.example.com'],
    ['127.0.0.1:5999', '127.0.0.1:5999'],
    ['http://127.0.0.1:5999', '127.0.0.1:5999'],
    ['https://u:p@127.0.0.1:5999/path?q#f', '127.0.0.1:5999'],
    ['[::1]:5999', '[::1]:5999'],
    ['http://[::ffff:127.0.0.1]:5999', '[::ffff:127.0.0.1]:5999'],
    ['HTTP://127.0.0.1:5999', 'HTTP:', 'the scheme prefix is compared case-sensitively: https:// is prepended'],
    ['localhost.:5999', 'localhost.:5999'],
    ['a@b@localhost', 'localhost', 'the last @ ends the user info'],
  ];
  for (const [address, want, why] of cases) t.equal(loginRegistry(address), want, why ?? address);
  for (const bad of ['http://127.0.0.1\t:5999', 'http:///x', 'http://exa mple.com', 'http://x%41y', 'https://a\\b'])
    t.throws(() => loginRegistry(bad), { code: 'AUTHZ_BODY_INVALID' }, JSON.stringify(bad));
});

t.test('host and port', async (t) => {
  t.same(splitHostPort('localhost:5000'), { host: 'localhost', port: '5000' });
  t.same(splitHostPort('[::1]:5000'), { host: '::1', port: '5000' });
  t.same(splitHostPort('[::1]'), { host: '::1', port: undefined });
  t.same(splitHostPort('example.com'), { host: 'example.com', port: undefined });
});
