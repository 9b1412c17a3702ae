import t from 'tap';
import { parsePolicy } from '../../../src/policy/load.js';
import { findShadowedRules } from '../../../src/policy/shadowing.js';

function shadowed(yaml: string): string[] {
  const r = parsePolicy(`version: 1\n${yaml}`, 'p.yaml');
  if (!r.ok) throw r.error;
  return findShadowedRules(r.policy).map((w) => `${r.policy.rules[w.rule]!.id}: ${w.message}`);
}

t.test('the default policy has no rule that can never match', async (t) => {
  const r = parsePolicy(`version: 1\n`, 'p.yaml');
  if (!r.ok) throw r.error;
  t.same(findShadowedRules(r.policy), []);
  const { loadPolicyFile } = await import('../../../src/policy/load.js');
  const d = loadPolicyFile(undefined);
  if (!d.ok) throw d.error;
  t.same(findShadowedRules(d.policy), []);
});

t.test('operations rules: an earlier rule naming every operation a later one names', async (t) => {
  t.match(
    shadowed(`rules:
  - { id: no-swarm, kind: operations, operations: ["swarm.*"] }
  - { id: no-init, kind: operations, operations: [swarm.init] }
  - { id: no-init-or-ps, kind: operations, operations: [swarm.init, container.list] }
`),
    ['no-init: rule no-init can never match: rule no-swarm above it denies every operation it names, for everyone it applies to'],
    'a later rule that also names other operations can still match',
  );
  t.match(
    shadowed(`rules:
  - { id: anything, kind: operations, effect: allow, operations: ["*"] }
  - { id: priv, kind: privileged }
`),
    ['priv: rule priv can never match: rule anything above it allows every operation, for everyone it applies to'],
  );
  t.same(
    shadowed(`rules:
  - { id: builds, kind: operations, operations: ["image.*"] }
  - { id: priv, kind: privileged }
`),
    [],
    'a rule of another kind is shadowed only by a rule for every operation',
  );
});

t.test('scope: the earlier rule must apply to everyone the later one applies to', async (t) => {
  const rules = (first: string, second: string) =>
    shadowed(`groups: { admins: [alice, bob], ops: [alice] }
rules:
  - { id: first, kind: operations, effect: allow, operations: ["*"], ${first} }
  - { id: second, kind: operations, operations: [image.build], ${second} }
`);
  t.equal(rules('groups: [admins]', 'users: [alice]').length, 1, 'alice is an admin');
  t.equal(rules('groups: [admins]', 'groups: [ops]').length, 1, 'every ops member is an admin');
  t.equal(rules('groups: [ops]', 'groups: [admins]').length, 0, 'bob is an admin but not in ops');
  t.equal(rules('groups: [admins]', 'exceptUsers: [carol]').length, 0, 'a rule for everyone is not covered by one for admins');
  t.equal(rules('exceptUsers: [carol]', 'exceptUsers: [carol, dave]').length, 1);
  t.equal(rules('exceptUsers: [carol, dave]', 'exceptUsers: [carol]').length, 0, 'dave escapes the first rule only');
  t.equal(rules('exceptGroups: [ops]', 'users: [bob]').length, 1, 'bob is not in ops');
  t.equal(rules('exceptGroups: [ops]', 'users: [alice]').length, 0, 'alice is excepted from the first rule');
});

t.test('same kind, same options: the later one never gets a request the earlier one did not take', async (t) => {
  t.match(
    shadowed(`rules:
  - { id: a, kind: host-mounts, allowedPaths: [/srv, /home] }
  - { id: b, kind: host-mounts, allowedPaths: [/srv, /home], users: [x] }
  - { id: c, kind: host-mounts, allowedPaths: [/srv] }
`),
    ['b: rule b can never match: rule a above it is the same check (host-mounts, same options) and matches first'],
    'other options are another check (c)',
  );
  t.match(
    shadowed(`rules:
  - { id: a, kind: host-resources, maxUlimits: { nice: 0, rtprio: 0 } }
  - { id: b, kind: host-resources }
`),
    ['b: rule b can never match'],
    'defaults and key order do not matter',
  );
});

t.test('rules in audit mode decide nothing; allow rules always decide', async (t) => {
  t.same(
    shadowed(`rules:
  - { id: a, kind: privileged, mode: audit }
  - { id: b, kind: privileged }
`),
    [],
  );
  t.same(shadowed(`mode: audit\nrules:\n  - { id: a, kind: privileged }\n  - { id: b, kind: privileged }\n`), []);
  t.equal(
    shadowed(`mode: audit\nrules:\n  - { id: a, kind: operations, effect: allow, operations: ["*"] }\n  - { id: b, kind: privileged }\n`)
      .length,
    1,
  );
});

t.test('a rule for nobody', async (t) => {
  t.match(
    shadowed(`groups: { admins: [] , ops: [alice] }
rules:
  - { id: a, kind: privileged, groups: [admins] }
  - { id: b, kind: privileged, groups: [ops], exceptUsers: [alice] }
  - { id: c, kind: privileged, users: [] }
`),
    [/^a: .*applies to nobody/, /^b: .*applies to nobody/, /^c: .*applies to nobody/],
  );
});
