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
  t.equal(formatIssue(r.issues[0]!), 'p.yaml:7:20: rules.1.allowedPaths.0: must be an absolute path');
});

t.test('a mistyped key is an error, not silently ignored', async (t) => {
  const r = parsePolicy('version: 1\nrules:\n  - id: a\n    kind: privileged\n    user: [bob]\n', 'p.yaml');
  t.match(r, { ok: false, issues: [{ line: 3, message: /Unrecognized key.*user/ }] });
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
  t.match(text, /p\.yaml:3:\d+: rules\.0\.groups\.0: unknown group "nobody"/);
  t.match(text, /p\.yaml:4:\d+: rules\.1\.id: duplicate rule id "a"/);
  t.match(text, /p\.yaml:4:\d+: rules\.1\.operations\.0: "contianer\.create" matches no Docker operation/);
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
