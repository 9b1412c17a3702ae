import { readFileSync } from 'node:fs';
import t from 'tap';
import { DEFAULT_POLICY_FILE } from '../../../src/policy/load.js';
import { editPolicyGroups, groupsOf, type GroupsEdit } from '../../../src/policy/groups-edit.js';

const add = (user: string, ...groups: string[]): GroupsEdit => ({ kind: 'add', user, groups });
const remove = (user: string): GroupsEdit => ({ kind: 'remove', user });

function edit(text: string, e: GroupsEdit) {
  const r = editPolicyGroups(text, 'policy.yaml', e);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('\n'));
  return r;
}

// Everything outside the changed lines is byte-for-byte what it was.
function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

t.test('the default policy: groups: {} becomes a block map; nothing else changes', async (t) => {
  const text = readFileSync(DEFAULT_POLICY_FILE, 'utf8');
  const r = edit(text, add('alice', 'devs', 'ops'));
  t.equal(r.reformatted, false);
  t.same(changedLines(text, r.text), { removed: ['groups: {}'], added: ['groups:', '  devs: [alice]', '  ops: [alice]'] });
  t.same(r.policy.groups, { devs: ['alice'], ops: ['alice'] });
  t.same(groupsOf(r.policy, 'alice'), ['devs', 'ops']);

  const r2 = edit(r.text, add('bob', 'devs', 'qa'));
  t.same(changedLines(r.text, r2.text), {
    removed: ['  devs: [alice]', '  ops: [alice]'],
    added: ['  devs: [alice, bob]', '  ops: [alice]', '  qa: [bob]'],
  });

  const r3 = edit(r2.text, remove('alice'));
  t.equal(r3.reformatted, false);
  t.same(r3.policy.groups, { devs: ['bob'], ops: [], qa: ['bob'] }, 'an emptied group stays (rules may name it)');
  t.same(changedLines(r2.text, r3.text), { removed: ['  devs: [alice, bob]', '  ops: [alice]'], added: ['  devs: [bob]', '  ops: []'] });
});

t.test('block sequences, comments and alignment are kept', async (t) => {
  const text = `version: 1 # v1
groups:   # who is who
  # the operators
  admins:
    - root-ish     # the first
    - carol
  devs: [dave]   # developers
rules: []
`;
  const r = edit(text, add('erin', 'admins', 'devs', 'new'));
  t.equal(r.reformatted, false);
  t.equal(
    r.text,
    `version: 1 # v1
groups:   # who is who
  # the operators
  admins:
    - root-ish     # the first
    - carol
    - erin
  devs: [dave, erin]   # developers
  new: [erin]
rules: []
`,
  );
  const back = edit(r.text, remove('erin'));
  t.equal(back.reformatted, false);
  t.equal(back.text, text.replace('rules: []', '  new: []\nrules: []'), 'removing takes erin out of every group, lines and all');

  const only = edit(`version: 1\ngroups:\n  solo:\n    - zed # only member\nrules: []\n`, remove('zed'));
  t.equal(only.text, `version: 1\ngroups:\n  solo: []\nrules: []\n`, 'the last member of a block list leaves an empty list, not a null');
  t.same(only.policy.groups, { solo: [] });
});

t.test('no groups section: one is added; flow maps stay flow', async (t) => {
  const text = 'version: 1\nrules:\n  - id: x\n    kind: privileged\n';
  const r = edit(text, add('alice', 'devs'));
  t.equal(r.text, `${text}groups:\n  devs: [alice]\n`);
  const flow = edit('version: 1\ngroups: {a: [x]}\n', add('y', 'b'));
  t.equal(flow.text, 'version: 1\ngroups: {a: [x], b: [y]}\n');
  t.equal(edit(flow.text, remove('x')).text, 'version: 1\ngroups: {a: [], b: [y]}\n');
});

t.test('nothing to do: the text is returned unchanged', async (t) => {
  const text = 'version: 1\ngroups:\n  devs: [alice]\n';
  const r = edit(text, add('alice', 'devs'));
  t.equal(r.changed, false);
  t.equal(r.text, text);
  t.equal(edit(text, remove('bob')).changed, false);
  t.equal(edit('version: 1\n', remove('bob')).changed, false, 'no groups at all');
});

t.test('names that YAML would read as something else are quoted', async (t) => {
  const r = edit('version: 1\ngroups:\n  g: []\n', add('null', 'g', 'true'));
  t.same(r.policy.groups, { g: ['null'], true: ['null'] });
  t.match(r.text, /g: \["null"\]/);
  t.same(edit(r.text, remove('null')).policy.groups, { g: [], true: [] });
});

t.test('JSON policies stay JSON', async (t) => {
  const text = `{\n  "version": 1,\n  "groups": { "devs": ["alice"] },\n  "rules": []\n}\n`;
  const r = edit(text, add('bob', 'devs'));
  t.same(JSON.parse(r.text), { version: 1, groups: { devs: ['alice', 'bob'] }, rules: [] });
  t.equal(r.reformatted, true, 'the caller is told the file was re-rendered');
});

t.test('unusual layouts fall back to re-rendering, still correct, comments kept', async (t) => {
  const text = 'version: 1\ngroups:\n  devs: &d [alice]\n  ops: *d\n# the rules\nrules: []\n';
  const r = editPolicyGroups(text, 'p.yaml', add('bob', 'ops'));
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.policy.groups.ops, ['alice', 'bob']);
  t.match(r.text, '# the rules');
});

t.test('an invalid policy is not edited: the issues come back with positions', async (t) => {
  const r = editPolicyGroups('version: 1\nrules:\n  - id: x\n    kind: nonsense\n', 'p.yaml', add('a', 'g'));
  t.equal(r.ok, false);
  if (r.ok) return;
  t.match(r.issues[0], { file: 'p.yaml', line: 4 });
  const dup = editPolicyGroups('version: 1\ngroups:\n  g: [a]\n  g: [b]\n', 'p.yaml', add('c', 'g'));
  t.equal(dup.ok, false, 'duplicate keys are refused, as the plugin refuses them');
});
