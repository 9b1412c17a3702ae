import t from 'tap';
import { bindVolume, joinedContainer, referencesOf } from '../../../src/request/references.js';
import { envelope } from '../../helpers/corpus.js';
import { request } from '../../helpers/policy.js';

const refs = (method: string, uri: string, body?: unknown) =>
  referencesOf(request(envelope(method, uri, body))).map((r) => `${r.use} ${r.kind} ${r.ref} @${r.field}`);

t.test('the object in the path, for every operation that names one', async (t) => {
  t.same(refs('POST', '/v1.41/containers/web/stop'), ['target container web @path']);
  t.same(refs('GET', '/v1.41/containers/a1b2/json'), ['target container a1b2 @path']);
  t.same(refs('DELETE', '/v1.41/containers/web'), ['target container web @path']);
  t.same(refs('GET', '/v1.41/containers/web/archive?path=/etc'), ['target container web @path']);
  t.same(refs('POST', '/v1.41/containers/web/exec', { Cmd: ['sh'] }), ['target container web @path']);
  t.same(refs('POST', '/v1.41/exec/0123abcd/start', { Detach: false }), ['target exec 0123abcd @path']);
  t.same(refs('GET', '/v1.41/exec/0123abcd/json'), ['target exec 0123abcd @path']);
  t.same(refs('DELETE', '/v1.41/volumes/data'), ['target volume data @path']);
  t.same(refs('GET', '/v1.41/networks/backend'), ['target network backend @path']);
  t.same(refs('POST', '/v1.41/networks/backend/connect', { Container: 'web' }), [
    'target network backend @path',
    'target container web @Container',
  ]);
  t.same(refs('POST', '/v1.41/networks/backend/disconnect', { Container: 'web', Force: true }), [
    'target network backend @path',
    'target container web @Container',
  ]);
  t.same(refs('POST', '/v1.41/commit?container=web&repo=x'), ['target container web @?container=']);
  t.same(refs('GET', '/v1.41/containers/web/checkpoints'), ['target container web @path']);
});

t.test('lists, prunes and creates name no existing object in the path', async (t) => {
  t.same(refs('GET', '/v1.41/containers/json?all=1'), []);
  t.same(refs('POST', '/v1.41/containers/prune'), []);
  t.same(refs('POST', '/v1.41/containers/create', { Image: 'busybox' }), []);
  t.same(refs('GET', '/v1.41/volumes'), []);
  t.same(refs('GET', '/v1.41/images/json'), []);
  t.same(refs('POST', '/v1.41/volumes/create', { Name: 'x' }), []);
});

t.test('a create names what it joins and mounts, as the daemon reads each field', async (t) => {
  t.same(
    refs('POST', '/v1.41/containers/create', {
      Image: 'busybox',
      HostConfig: {
        VolumesFrom: ['data:ro', 'other'],
        Links: ['db:database'],
        PidMode: 'container:web',
        IpcMode: 'container:web2',
        NetworkMode: 'container:web3',
        Binds: ['vol1:/a', '/host:/b', 'vol2:/c:ro', '/anon'],
        Mounts: [
          { Type: 'volume', Source: 'vol3', Target: '/d' },
          { Type: 'volume', Target: '/anon2' },
          { Type: 'bind', Source: '/x', Target: '/e' },
        ],
      },
    }),
    [
      'join container data @HostConfig.VolumesFrom[0]',
      'join container other @HostConfig.VolumesFrom[1]',
      'join container db @HostConfig.Links[0]',
      'join container web @HostConfig.PidMode',
      'join container web2 @HostConfig.IpcMode',
      'join container web3 @HostConfig.NetworkMode',
      'mount volume vol1 @HostConfig.Binds[0]',
      'mount volume vol2 @HostConfig.Binds[2]',
      'mount volume vol3 @HostConfig.Mounts[0].Source',
    ],
  );
  t.same(
    refs('POST', '/v1.41/containers/create', {
      Image: 'busybox',
      HostConfig: { NetworkMode: 'backend' },
      NetworkingConfig: { EndpointsConfig: { backend: null, bridge: {} } },
    }),
    ['join network backend @HostConfig.NetworkMode', 'join network backend @NetworkingConfig.EndpointsConfig'],
    "the daemon's own network modes are not network names",
  );
  t.same(refs('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { NetworkMode: 'host', PidMode: 'host' } }), []);
  t.same(
    refs('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { PidMode: 'Container:web', IpcMode: 'container' } }),
    [],
    'moby reads "container:" case-sensitively, and needs the colon',
  );
  t.same(refs('POST', '/v1.41/build?networkmode=container:web', undefined), ['join container web @?networkmode=']);
});

t.test('the helpers split as moby splits', async (t) => {
  t.equal(joinedContainer('container:a:b'), 'a:b', 'at the first colon');
  t.equal(joinedContainer('container:'), '');
  t.equal(joinedContainer('host'), undefined);
  t.equal(bindVolume('name:/dst'), 'name');
  t.equal(bindVolume('/src:/dst'), undefined);
  t.equal(bindVolume('/dst'), undefined);
  t.equal(bindVolume(':/dst'), undefined);
});
