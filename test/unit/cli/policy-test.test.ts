import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { main } from '../../../src/cli/main.js';
import { DEFAULT_POLICY_FILE, loadPolicyFile } from '../../../src/policy/load.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = { AUTHZ_ENV_FILE: '' }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const DEFAULT_TESTS = join(DEFAULT_POLICY_FILE, '..', 'default.test.yaml');

t.test('policy/default.test.yaml: every case passes against the default policy', async (t) => {
  const r = await run(['test', DEFAULT_TESTS, '--format', 'json']);
  const report = JSON.parse(r.out) as {
    files: { policy: string; cases: { name: string; pass: boolean; failure?: string }[] }[];
    passed: number;
    failed: number;
  };
  t.equal(report.files[0]!.policy, DEFAULT_POLICY_FILE, "the file's own policy: default.yaml, next to it");
  for (const c of report.files[0]!.cases) t.ok(c.pass, `${c.name}${c.failure ? `: ${c.failure}` : ''}`);
  t.equal(report.failed, 0);
  t.ok(report.passed > 40);
  t.equal(r.code, 0);
});

t.test('policy/default.test.yaml covers every rule of the default policy: a denial and an allowed request each', async (t) => {
  const loaded = loadPolicyFile(undefined);
  if (!loaded.ok) throw loaded.error;
  const { cases } = parse(readFileSync(DEFAULT_TESTS, 'utf8')) as { cases: { name: string; expect: { allow: boolean; rule?: string } }[] };
  const about = (id: string) => cases.filter((c) => c.name.startsWith(`${id}: `));
  for (const id of [...loaded.policy.rules.map((r) => r.id), 'hello', 'api-version', 'self-protection']) {
    t.ok(
      about(id).some((c) => !c.expect.allow && c.expect.rule === id),
      `${id}: a case it denies`,
    );
    t.ok(
      about(id).some((c) => c.expect.allow),
      `${id}: an allowed case`,
    );
  }
});

t.test('a failing case: exit 1, what was expected and what happened, with every step', async (t) => {
  const dir = t.testdir({
    't.yaml': `policy: ${JSON.stringify(DEFAULT_POLICY_FILE)}
cases:
  - name: privileged is allowed (wrong)
    request: { path: /v1.41/containers/create, body: { Image: busybox, HostConfig: { Privileged: true } } }
    expect: { allow: true }
  - name: a typo in the rule
    request: { path: /v1.41/containers/create, body: { Image: busybox, HostConfig: { Privileged: true } } }
    expect: { allow: false, rule: no-privilegd }
  - name: ps is allowed
    request: { path: /containers/json }
    expect: { allow: true }
`,
  });
  const file = join(dir, 't.yaml');
  const r = await run(['test', file]);
  t.equal(r.code, 1);
  t.match(
    r.out,
    new RegExp(`FAIL  privileged is allowed \\(wrong\\) \\(${file}:3\\): expected allowed, got denied by rule no-privileged: `),
  );
  t.match(r.out, /^ +MATCH +no-privileged +denies: /m, 'the steps of a failing case');
  t.match(r.out, /FAIL {2}a typo in the rule .*there is no rule "no-privilegd" in the policy or built in; did you mean no-privileged\?/);
  t.match(r.out, /^ {2}ok {4}ps is allowed: allowed \(no rule matched\)$/m);
  t.notMatch(r.out, /ok {4}ps is allowed.*\n +pass/, 'passing cases without their steps');
  t.match(r.out, /3 cases: 1 passed, 2 failed$/);
  t.match(await run(['test', '-v', file]), { out: /ok {4}ps is allowed.*\n +pass +self-protection/ }, '--verbose shows them');
});

t.test("--policy replaces the file's policy; without either, the configured policy", async (t) => {
  const dir = t.testdir({
    'open.yaml': 'version: 1\nhello: { enabled: false }\n',
    't.yaml':
      'cases:\n  - name: privileged\n    request: { path: /containers/create, body: { Image: x, HostConfig: { Privileged: true } } }\n    expect: { allow: true }\n',
  });
  const file = join(dir, 't.yaml');
  t.match(await run(['test', file]), { code: 1, out: /policy .*default\.yaml/ }, 'the built-in policy');
  t.match(await run(['test', file], { AUTHZ_ENV_FILE: '', AUTHZ_POLICY: join(dir, 'open.yaml') }), { code: 0, out: /policy .*open\.yaml/ });
  t.match(await run(['test', '--policy', join(dir, 'open.yaml'), file]), { code: 0 });
});

t.test('test files are validated: file:line:col, in the words of the file; exit 3', async (t) => {
  const dir = t.testdir({
    'bad.yaml': `cases:
  - name: a
    request: { path: containers/json, methd: GET }
    expect: { allow: maybe }
  - request: { path: /x, user: "@root" }
`,
    'dup.yaml': `cases:
  - { name: a, request: { path: /x }, expect: { allow: true } }
  - { name: a, request: { path: /y }, expect: { allow: true } }
`,
    'no-policy.yaml': 'policy: missing.yaml\ncases:\n  - { name: a, request: { path: /x }, expect: { allow: true } }\n',
  });
  const bad = join(dir, 'bad.yaml');
  const r = await run(['test', bad]);
  t.equal(r.code, 3);
  t.match(r.err, `${bad}:3:22: case "a": request.path: must be an API path starting with "/"`);
  t.match(r.err, `${bad}:3:39: case "a": request: unknown key "methd" (did you mean "method"?)`);
  t.match(r.err, `${bad}:4:22: case "a": expect.allow: must be true or false, not text "maybe"`);
  t.match(r.err, `${bad}:5:32: case #2: request.user: must be a TLS user name or "@anonymous"`);
  t.match(r.err, `${bad}:5:5: case #2: name: required`);
  t.match(await run(['test', join(dir, 'dup.yaml')]), { code: 3, err: /dup\.yaml:3:\d+: case "a": name: duplicate case name "a"/ });
  t.match(await run(['test', join(dir, 'no-policy.yaml')]), { code: 3, err: /missing\.yaml:1:1: cannot read policy: ENOENT/ });
  t.match(await run(['test', join(dir, 'none.yaml')]), { code: 3, err: /none\.yaml:1:1: cannot read the test file: ENOENT/ });
  t.match(await run(['test']), { code: 2, err: /expected FILE\.\.\./ });
});
