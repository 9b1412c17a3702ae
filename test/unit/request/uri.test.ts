import t from 'tap';
import { compareApiVersions, olderThan, parseRequestUri } from '../../../src/request/uri.js';

t.test('strips any /vX.Y prefix the router accepts', async (t) => {
  t.match(parseRequestUri('/v1.41/containers/json?all=1'), { path: '/containers/json', apiVersion: '1.41', query: 'all=1' });
  t.match(parseRequestUri('/v1.41.0/info'), { path: '/info', apiVersion: '1.41.0' });
  t.match(parseRequestUri('/v1/info'), { path: '/info', apiVersion: '1' });
  t.match(parseRequestUri('/_ping'), { path: '/_ping', apiVersion: undefined, query: '' });
  t.match(parseRequestUri('/version'), { path: '/version', apiVersion: undefined });
});

t.test('decodes percent-encoding as the router does', async (t) => {
  t.equal(parseRequestUri('/v1.41/%63ontainers/create').path, '/containers/create');
  t.equal(parseRequestUri('/v1.41/containers/%63apa-enc/json').path, '/containers/capa-enc/json');
  t.equal(parseRequestUri('/v1.41/images/library%2Fhello-world/json').path, '/images/library/hello-world/json');
  t.equal(parseRequestUri('/%761.41/containers/create').path, '/containers/create', 'an encoded version prefix is still a prefix');
});

t.test('reads absolute-form targets by their path', async (t) => {
  t.match(parseRequestUri('http://x/v1.41/containers/create?name=capa-abs'), { path: '/containers/create', query: 'name=capa-abs' });
});

t.test('keeps the raw query, including a bare ?', async (t) => {
  t.match(parseRequestUri('/v1.41/info?'), { path: '/info', query: '' });
  t.equal(parseRequestUri('/v1.41/x?filters=%7B%22a%22%7D').query, 'filters=%7B%22a%22%7D');
});

t.test('refuses what the router would not serve as-is', async (t) => {
  for (const bad of [
    '/v1.41//containers/json',
    '/v1.41/containers/../info',
    '/v1.41/./info',
    '/v1.41/%2e%2e/info',
    '/a%zz',
    'containers/json',
    '/x%00y',
  ]) {
    t.throws(() => parseRequestUri(bad), { code: 'AUTHZ_URI_INVALID' }, bad);
  }
});

t.test('compares versions numerically', async (t) => {
  t.equal(compareApiVersions('1.9', '1.24'), -1);
  t.equal(compareApiVersions('1.41', '1.41.0'), 0);
  t.equal(compareApiVersions('1.44', '1.24'), 1);
});

t.test('olderThan compares numerically, and answers the same when asked again', async (t) => {
  const older = olderThan('1.24');
  const cases: [string, boolean][] = [
    ['1.9', true],
    ['1.23', true],
    ['1.24', false],
    ['1.24.0', false],
    ['1.100', false],
    ['2', false],
    ['0.99', true],
    ['1.23.999', true],
  ];
  for (let round = 0; round < 2; round++) for (const [v, want] of cases) t.equal(older(v), want, `${v} (round ${round})`);
  t.equal(older('1.9'.padEnd(40, '0')), false, 'a long version is compared, not kept');
});
