import t from 'tap';
import { localVolumeHostAccess } from '../../../../src/policy/checks/host-mounts.js';
import { envelope } from '../../../helpers/corpus.js';
import { policyFrom, request } from '../../../helpers/policy.js';

const check = policyFrom('version: 1\nhello: { enabled: false }\nrules:\n  - { id: hp, kind: host-mounts, allowedPaths: [/srv/shared] }\n')
  .rules[0]!.check;
const volume = (DriverOpts: Record<string, string>) => request(envelope('POST', '/v1.41/volumes/create', { Name: 'v1', DriverOpts }));

t.test('o= flags are read exactly, as moby/sys/mount reads them', async (t) => {
  t.same(
    localVolumeHostAccess(
      'local',
      new Map([
        ['o', 'bind'],
        ['device', '/x'],
      ]),
    ),
    { kind: 'bind', path: '/x' },
  );
  t.same(
    localVolumeHostAccess(
      'local',
      new Map([
        ['o', 'ro,rbind'],
        ['device', '/x'],
      ]),
    ),
    { kind: 'bind', path: '/x' },
  );
  // "BIND" is not the bind flag: it is passed to the filesystem as data, and `type` decides what is mounted.
  const disguised = new Map([
    ['type', 'overlay'],
    ['o', 'BIND,lowerdir=/etc'],
    ['device', '/srv/shared'],
  ]);
  t.same(localVolumeHostAccess('local', disguised), { kind: 'mount', type: 'overlay' });
  t.match(check(volume(Object.fromEntries(disguised))), {
    field: '--opt type=overlay (DriverOpts.type)',
    reason: /^makes the local volume driver mount a host filesystem \(the types that are not from the host: tmpfs, nfs, /,
  });
  t.equal(check(volume({ type: 'none', o: 'bind', device: '/srv/shared/data' })), undefined);
});

t.test('a relative bind device is refused: it depends on the daemon working directory', async (t) => {
  t.match(check(volume({ type: 'none', o: 'bind', device: 'srv/shared' })), { field: 'DriverOpts.device', reason: /relative host path/ });
  t.match(check(volume({ type: 'none', o: 'bind', device: '' })), { field: 'DriverOpts.device' });
});

t.test('network filesystems served by this host are host mounts', async (t) => {
  const servedHere: Record<string, string>[] = [
    { type: 'nfs', o: 'addr=127.0.0.1,rw', device: ':/' },
    { type: 'nfs4', o: 'addr=::1', device: ':/export' },
    { type: 'nfs', device: 'localhost:/export' },
    { type: 'nfs', device: '[::1]:/export' },
    { type: 'cifs', device: '//127.0.0.1/share' },
    { type: 'smb3', o: 'addr=0.0.0.0', device: '//x/share' },
    { type: 'nfs', o: 'addr=127.1', device: ':/' },
  ];
  for (const opts of servedHere) {
    t.match(check(volume(opts)), { field: 'DriverOpts', reason: /a server on this host/ }, JSON.stringify(opts));
  }
  t.equal(check(volume({ type: 'nfs', o: 'addr=10.0.0.5,rw', device: ':/export' })), undefined);
  t.equal(check(volume({ type: 'cifs', device: '//fileserver/share', o: 'username=x' })), undefined);
  const inline = request(
    envelope('POST', '/v1.41/containers/create', {
      Image: 'b',
      HostConfig: {
        Mounts: [
          {
            Type: 'volume',
            Target: '/m',
            VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'nfs', o: 'addr=127.0.0.1', device: ':/' } } },
          },
        ],
      },
    }),
  );
  t.match(check(inline), { field: 'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options' });
});
