import t from 'tap';
import { weakening } from '../../../../src/policy/checks/security-options.js';
import { envelope } from '../../../helpers/corpus.js';
import { defaultPolicy, request } from '../../../helpers/policy.js';

t.test('no-new-privileges: every spelling strconv.ParseBool reads as false turns it off', async (t) => {
  for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) {
    t.match(weakening(`no-new-privileges=${v}`), /turns off no-new-privileges/, `=${v}`);
    t.match(weakening(`no-new-privileges:${v}`), /turns off no-new-privileges/, `:${v}`);
  }
  for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) t.equal(weakening(`no-new-privileges=${v}`), undefined, `=${v}`);
  t.equal(weakening('no-new-privileges'), undefined);
  for (const v of ['no', 'off', '', ' false', 'tRuE'])
    t.ok(weakening(`no-new-privileges=${v}`), `the daemon refuses ${JSON.stringify(v)}; so does the plugin`);
  t.ok(weakening('No-New-Privileges=true'), 'keys are exact: the daemon refuses this one');
});

t.test('the separator: "=" when there is one, else ":"', async (t) => {
  t.match(weakening('seccomp:unconfined'), /disables seccomp/);
  t.match(weakening('seccomp=unconfined'), /disables seccomp/);
  t.match(weakening('apparmor:unconfined'), /disables AppArmor/);
  t.match(weakening('label:disable'), /disables SELinux/);
  t.match(weakening('label:type:spc_t'), /SELinux context/);
  t.ok(weakening('label:type:x=y'), 'an "=" wins: the key is "label:type:x", which the daemon refuses');
});

t.test('keys and values are exact, as the daemon compares them', async (t) => {
  t.ok(weakening('Seccomp=unconfined'), 'not the key seccomp: the daemon refuses it, and so does the plugin');
  t.ok(weakening(' seccomp=unconfined'));
  t.match(weakening('apparmor=Docker-Default'), /replaces the AppArmor profile/, 'profile names are case-sensitive');
  t.match(weakening('apparmor=docker-default '), /replaces/);
  t.equal(weakening('apparmor=docker-default'), undefined);
  t.equal(weakening('apparmor='), undefined, "empty: the daemon's default profile");
  t.equal(weakening('seccomp='), undefined);
  t.equal(weakening('seccomp=builtin'), undefined);
  t.match(weakening('seccomp=Builtin'), /replaces the seccomp profile/);
  t.match(weakening('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'), /replaces the seccomp profile/);
  t.match(weakening('disable'), /disables SELinux/);
  for (const label of [
    'label=user:system_u',
    'label=role:r',
    'label=level:s0:c0.c1023',
    'label=type:spc_t',
    'label=filetype:x',
    'label=nested',
  ])
    t.match(weakening(label), /SELinux context/, label);
});

t.test('other options', async (t) => {
  t.match(weakening('writable-cgroups=true'), /writable/);
  t.match(weakening('writable-cgroups=1'), /writable/);
  t.equal(weakening('writable-cgroups=false'), undefined);
  t.equal(weakening('writable-cgroups=0'), undefined);
  t.match(weakening('systempaths=unconfined'), /unmasks/);
  t.ok(weakening('credentialspec=file://x'), 'Windows-only: refused on Linux by the daemon too');
  t.ok(weakening(''), 'an empty option');
  t.ok(weakening('nonsense'));
});

t.test('in a request, with the field named', async (t) => {
  const check = defaultPolicy().rules.find((r) => r.id === 'security-options')!.check;
  const create = (opts: unknown[]) =>
    request(envelope('POST', '/v1.41/containers/create', { Image: 'b', HostConfig: { SecurityOpt: opts } }));
  t.match(check(create(['no-new-privileges', 'no-new-privileges=0'])), {
    field: '--security-opt no-new-privileges=0 (HostConfig.SecurityOpt[1])',
    reason: 'turns off no-new-privileges (lets processes gain privileges)',
  });
  t.match(check(create([null])), { field: 'HostConfig.SecurityOpt[0]' }, 'null is "", which the daemon refuses');
  t.equal(check(create(['no-new-privileges=true', 'apparmor=docker-default', 'seccomp=builtin'])), undefined);
});
