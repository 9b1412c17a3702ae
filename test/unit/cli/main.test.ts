import { join } from 'node:path';
import t from 'tap';
import { COMMANDS, main } from '../../../src/cli/main.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = { AUTHZ_ENV_FILE: '' }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

t.test('--help and --version; every command has its own --help that does nothing else', async (t) => {
  t.match(await run(['--help']), { code: 0, out: /usage: docker-authz <command>[\s\S]*Exit codes/ });
  t.match(await run(['--version']), { code: 0, out: /^docker-authz \d+\.\d+\.\d+/ });
  t.match(await run([]), { code: 2, err: /usage/ });
  for (const cmd of COMMANDS) {
    const r = await run([...cmd.name.split(' '), '--help']);
    t.match(r, { code: 0, out: new RegExp(`^usage: docker-authz ${cmd.name}`) }, `${cmd.name} --help`);
  }
});

t.test('strict parsing: unknown commands and options, missing values, extra arguments are usage errors (exit 2)', async (t) => {
  t.match(await run(['frobnicate']), { code: 2, err: /unknown command "frobnicate"/ });
  t.match(await run(['check', '--bogus']), { code: 2, err: /Unknown option '--bogus'[\s\S]*usage: docker-authz check/ });
  t.match(await run(['hello', 'reset', '--user']), { code: 2, err: /argument missing/ });
  t.match(await run(['reload', 'extra']), { code: 2, err: /unexpected argument "extra"/ });
  t.match(await run(['check', '--format', 'xml']), { code: 2, err: /--format must be text or json/ });
});

t.test('hello reset: --user NAME and --user=NAME are the same; forgetting everyone needs --all', async (t) => {
  const stateDir = t.testdir({});
  const env = { AUTHZ_ENV_FILE: '', AUTHZ_STATE_DIR: stateDir };
  const { StateStore } = await import('../../../src/state/store.js');
  const { Greetings } = await import('../../../src/state/greetings.js');
  const state = new StateStore(stateDir);
  t.teardown(() => state.close());
  const g = new Greetings(state);
  for (const id of ['alice', 'bob', 'carol']) g.greet(id);
  t.match(await run(['hello', 'reset'], env), { code: 2, err: /--user NAME .* or --all/ }, 'no silent "forget everyone"');
  t.match(await run(['hello', 'reset', '--user=alice'], env), { code: 0, out: 'forgot: alice' });
  t.match(await run(['hello', 'reset', '--user', 'bob'], env), { code: 0, out: 'forgot: bob' });
  t.ok(g.isGreeted('carol'), 'only the named identities were forgotten');
  t.match(await run(['hello', 'status', '--format', 'json'], env), { code: 0, out: /"identity": "carol"/ });
  t.match(await run(['hello', 'reset', '--all'], env), { code: 0, out: 'forgot: carol' });
  t.match(await run(['hello', 'status'], env), { code: 0, out: 'nobody has said hello yet' });
});

t.test('check: file:line:col once (no doubled prefix), --format json, exit 1 on a bad file', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'version: 1\nrules:\n  - id: x\n    kind: privilegd\n' });
  const bad = join(dir, 'bad.yaml');
  const missing = join(dir, 'missing.yaml');
  const r = await run(['check', bad, missing]);
  t.equal(r.code, 1);
  t.match(r.err, new RegExp(`^${bad}:4:11: rule x: kind: "privilegd" is not one of .*\\(did you mean privileged\\?\\)$`, 'm'));
  t.match(r.err, new RegExp(`^${missing}:1:1: cannot read policy: ENOENT`, 'm'));
  t.notMatch(r.err, /:1:1: .*:1:1:/, 'no doubled prefix');
  const json = await run(['check', '--format=json', bad]);
  t.equal(json.code, 1);
  t.match(JSON.parse(json.out), [{ ok: false, file: bad, issues: [{ line: 4, col: 11, message: /kind/ }] }]);
  t.match(await run(['check']), { code: 0, out: /default\.yaml: OK/ });
});

t.test('check warns about rules that can never match, at the rule, without failing', async (t) => {
  const dir = t.testdir({
    'p.yaml':
      'version: 1\nrules:\n  - { id: no-swarm, kind: operations, operations: ["swarm.*"] }\n  - { id: no-init, kind: operations, operations: [swarm.init] }\n',
  });
  const file = join(dir, 'p.yaml');
  const r = await run(['check', file]);
  t.equal(r.code, 0);
  t.match(r.out, /p\.yaml: OK \(2 rules, hello gate on, 1 warning\)/);
  t.match(r.err, `${file}:4:5: warning: rule no-init can never match: rule no-swarm above it denies every operation it names`);
  const json = await run(['check', '--format', 'json', file]);
  t.match(JSON.parse(json.out), [{ ok: true, warnings: [{ line: 4, col: 5, rule: 'no-init', message: /can never match/ }] }]);
});

t.test('commands that need the running plugin exit 3 when it is not there', async (t) => {
  const env = { AUTHZ_ENV_FILE: '', AUTHZ_SOCKET: `/tmp/authz-none-${process.pid}.sock` };
  t.match(await run(['reload'], env), { code: 3, err: /not running/ });
  t.match(await run(['status'], env), { code: 3, err: /not running/ });
});

t.test('a bad configuration is reported with its code (exit 1)', async (t) => {
  t.match(await run(['status'], { AUTHZ_ENV_FILE: '', AUTHZ_LOG_LEVEL: 'loud' }), { code: 1, err: /\[AUTHZ_CONFIG_INVALID\]/ });
});
