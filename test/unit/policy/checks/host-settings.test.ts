import t from 'tap';
import { envelope } from '../../../helpers/corpus.js';
import { defaultPolicy, request } from '../../../helpers/policy.js';

const check = defaultPolicy().rules.find((r) => r.id === 'host-settings')!.check;
const create = (hc: Record<string, unknown>) => request(envelope('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: hc }));
const build = (query: string) => request(envelope('POST', `/v1.41/build?${query}`, undefined, { 'Content-Type': 'application/x-tar' }));

t.test('log driver names are exact: another spelling is a plugin lookup', async (t) => {
  for (const type of ['json-file', 'local', 'journald', 'none', '']) t.equal(check(create({ LogConfig: { Type: type } })), undefined, type);
  for (const type of ['JSON-FILE', 'Json-File', ' json-file', 'json-file ', 'syslog', 'gelf', 'fluentd']) {
    t.match(
      check(create({ LogConfig: { Type: type } })),
      { field: 'HostConfig.LogConfig.Type', reason: /allowed log drivers: json-file, local, journald, none/ },
      type,
    );
  }
});

t.test('runtimes are exact', async (t) => {
  t.equal(check(create({ Runtime: 'runc' })), undefined);
  for (const runtime of ['RUNC', 'runc ', 'io.containerd.runc.v2', 'nvidia'])
    t.match(check(create({ Runtime: runtime })), { field: 'HostConfig.Runtime' }, runtime);
});

t.test('any build remote but client-session is a fetch', async (t) => {
  t.equal(check(build('t=x')), undefined);
  t.equal(check(build('remote=')), undefined);
  t.equal(check(build('remote=client-session')), undefined);
  for (const remote of [
    'https://example.com/ctx.tar',
    'HTTP://example.com/x',
    'git@github.com:a/b.git',
    'github.com/a/b',
    'git://x/y',
    'ftp://x',
    ' https://x',
  ])
    t.match(check(build(`remote=${encodeURIComponent(remote)}`)), { field: 'remote' }, remote);
});
