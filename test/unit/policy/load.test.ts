import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY_FILE, formatIssue, loadPolicyFile, parsePolicy } from '../../../src/policy/load.js';

t.test('the shipped default policy is valid and has the promised rules', async (t) => {
  const r = loadPolicyFile(undefined);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.source, DEFAULT_POLICY_FILE);
  t.same(r.policy.hello, { enabled: true, image: 'hello-world', scope: 'identity', mode: 'enforce' });
  t.same(
    r.policy.rules.map((x) => x.kind),
    [
      'ownership',
      'privileged',
      'host-mounts',
      'capabilities',
      'devices',
      'host-namespaces',
      'security-options',
      'host-settings',
      'networks',
      'registries',
      'host-resources',
      'operations',
    ],
  );
});

t.test('defaults fill in a minimal policy', async (t) => {
  const r = parsePolicy('version: 1\n', 'min.yaml');
  t.match(r, { ok: true, policy: { hello: { enabled: true, image: 'hello-world' }, rules: [] } });
});

t.test('JSON policies work too', async (t) => {
  t.match(parsePolicy('{"version":1,"rules":[{"id":"p","kind":"privileged"}]}', 'p.json'), { ok: true });
});

t.test('schema errors point at file:line:col', async (t) => {
  const text = 'version: 1\nrules:\n  - id: a\n    kind: privileged\n  - id: b\n    kind: host-mounts\n    allowedPaths: [relative/path]\n';
  const r = parsePolicy(text, 'p.yaml');
  t.notOk(r.ok);
  if (r.ok) return;
  t.equal(r.error.code, 'AUTHZ_POLICY_SCHEMA');
  t.equal(formatIssue(r.issues[0]!), 'p.yaml:7:20: rule b: allowedPaths[0]: must be an absolute path');
});

t.test('a mistyped key is an error, not silently ignored', async (t) => {
  const r = parsePolicy('version: 1\nrules:\n  - id: a\n    kind: privileged\n    user: [bob]\n', 'p.yaml');
  t.match(r, {
    ok: false,
    issues: [
      {
        line: 5,
        col: 5,
        message:
          'rule a: unknown key "user" (did you mean "users"?); the keys here are id, description, users, groups, exceptUsers, exceptGroups, mode, kind',
      },
    ],
  });
});

t.test('semantic errors: duplicate ids, unknown groups and operations', async (t) => {
  const r = parsePolicy(
    `version: 1
rules:
  - { id: a, kind: privileged, groups: [nobody] }
  - { id: a, kind: operations, operations: [contianer.create] }
`,
    'p.yaml',
  );
  t.notOk(r.ok);
  if (r.ok) return;
  const text = r.issues.map(formatIssue).join('\n');
  t.match(text, /p\.yaml:3:\d+: rule a: groups\[0\]: unknown group "nobody"/);
  t.match(text, /p\.yaml:4:\d+: rule operations#2: id: duplicate rule id "a"/);
  t.match(text, /p\.yaml:4:\d+: rule operations#2: operations\[0\]: "contianer\.create" matches no Docker operation/);
});

t.test('syntax errors and unreadable files carry positions and codes', async (t) => {
  const r = parsePolicy('version: 1\nrules: [\n', 'bad.yaml');
  t.match(r, { ok: false, error: { code: 'AUTHZ_POLICY_SYNTAX' }, issues: [{ file: 'bad.yaml' }] });
  const dup = parsePolicy('version: 1\nversion: 1\n', 'dup.yaml');
  t.match(dup, { ok: false, issues: [{ line: 2 }] }, 'duplicate keys in the policy are errors');
  const missing = loadPolicyFile('/nonexistent/policy.yaml');
  t.match(missing, {
    ok: false,
    error: { code: 'AUTHZ_POLICY_UNREADABLE' },
    issues: [{ file: '/nonexistent/policy.yaml', line: 1, col: 1 }],
  });
  const dir = t.testdir({});
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'version: 2\n');
  t.match(loadPolicyFile(file), { ok: false, issues: [{ file, line: 1, col: 10 }] });
});

t.test('messages name rules by id (kind#n without one) and speak the words of the file, not the schema library', async (t) => {
  const cases: [string, string][] = [
    ['rules:\n  - id: x\n    kind: privilegd\n', 'p.yaml:4:11: rule x: kind: "privilegd" is not one of operations, privileged, '],
    ['rules:\n  - id: x\n    kind: privilegd\n', '(did you mean privileged?)'],
    ['rules:\n  - { id: a, kind: privileged }\n  - kind: privileged\n', 'p.yaml:4:5: rule privileged#2: id: required'],
    ['rules:\n  - privileged\n', 'p.yaml:3:5: rule #1: must be a mapping (key: value), not text "privileged"'],
    ['rules:\n  - { id: x, kind: host-mounts, allowedPaths: /srv }\n', 'rule x: allowedPaths: must be a list, not text "/srv"'],
    ['hello: { enabled: yes-please }\n', 'p.yaml:2:19: hello.enabled: must be true or false, not text "yes-please"'],
    [
      'rules:\n  - { id: x, kind: operations, effect: maybe, operations: [] }\n',
      'rule x: effect: must be one of "allow", "deny", not text "maybe"',
    ],
    ['rules:\n  - { id: x, kind: operations, operations: [] }\n', 'rule x: operations: must not be empty'],
    ['rules:\n  - { id: x, kind: host-resources, maxPidsLimit: 0 }\n', 'rule x: maxPidsLimit: must be greater than 0'],
    [
      'rules:\n  - { id: x, kind: host-resources, maxUlimits: { nproc: 1, rtpiro: 0 } }\n',
      'rule x: maxUlimits: unknown key "rtpiro" (did you mean "rtprio"?)',
    ],
    ['helo: {}\n', 'p.yaml:2:1: unknown key "helo" (did you mean "hello"?); the keys here are version, mode, hello, api, groups, rules'],
  ];
  for (const [yaml, message] of cases) {
    const r = parsePolicy(`version: 1\n${yaml}`, 'p.yaml');
    t.match(r.ok ? '' : r.issues.map(formatIssue).join('\n'), message, yaml);
  }
  const r = parsePolicy('version: 1\nrules:\n  - { id: x, kind: privilegd }\n', 'p.yaml');
  t.notMatch(r.ok ? '' : r.issues[0]!.message, /Invalid|discriminator|expected string|received/, 'no schema-library words');
});
