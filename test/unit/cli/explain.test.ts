import { join } from 'node:path';
import t from 'tap';
import { main } from '../../../src/cli/main.js';
import { corpusRequests } from '../../helpers/corpus.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = { AUTHZ_ENV_FILE: '' }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const CREATE = ['--path', '/v1.41/containers/create'];
const body = (hostConfig: Record<string, unknown>) => ['--body', JSON.stringify({ Image: 'busybox', HostConfig: hostConfig })];

t.test('a denial: exit 1, the deciding rule, what the docker CLI shows, and every step', async (t) => {
  const r = await run(['explain', ...CREATE, ...body({ Privileged: true, Binds: ['/:/host'] }), '--user', 'alice']);
  t.equal(r.code, 1);
  t.match(r.out, /^request: +POST \/v1\.41\/containers\/create$/m, 'a body makes the default method POST');
  t.match(r.out, /^operation: container\.create \(API 1\.41\)$/m);
  t.match(r.out, /^identity: +alice \(in no group\), has said hello \(assumed/m);
  t.match(r.out, /^decision: +DENIED: denied by rule no-privileged$/m);
  t.match(r.out, /^docker shows: Error response from daemon: authorization denied by plugin authz: denied by rule no-privileged: /m);
  t.match(r.out, /^ {2}pass +self-protection /m);
  t.match(r.out, /^ {2}pass +hello +alice has said hello$/m);
  t.match(r.out, /^ {2}MATCH +no-privileged +denies: /m);
  t.match(r.out, /^ {2}- +host-paths +not reached; would also deny: .*Binds\[0\]/m, 'later rules: what they would have done');
  t.match(r.out, /^ {2}- +cluster-and-plugins +not reached; would not match either$/m);
});

t.test('an allowed request exits 0; rules that did not match say why', async (t) => {
  const r = await run(['explain', ...CREATE, ...body({ CapAdd: ['CHOWN'] }), '--format', 'json']);
  t.equal(r.code, 0);
  const e = JSON.parse(r.out) as { decision: unknown; identity: string; steps: { id: string; outcome: string; detail: string }[] };
  t.same(e.decision, { allow: true });
  t.equal(e.identity, '@anonymous');
  t.match(
    e.steps.find((s) => s.id === 'capabilities'),
    { outcome: 'no-match', detail: /it judges --cap-add/ },
  );
  t.match(
    e.steps.find((s) => s.id === 'cluster-and-plugins'),
    { outcome: 'no-match', detail: /^container\.create is not one of its operations \(swarm\.init, .* and \d+ more\)$/ },
  );
  t.equal(e.steps.length, 3 + 12, 'three built-in steps and every rule of the default policy');
});

t.test('the hello gate: --not-greeted; greeting steps pass it', async (t) => {
  t.match(await run(['explain', '--path', '/containers/json', '--not-greeted']), {
    code: 1,
    out: /decision: +DENIED: denied by rule hello[\s\S]*MATCH +hello +@anonymous has not said hello/,
  });
  t.match(await run(['explain', ...CREATE, '--body', '{"Image":"hello-world"}', '--not-greeted']), {
    code: 0,
    out: /pass +hello +@anonymous has not said hello, but this request is part of saying it/,
  });
});

t.test('groups come from the policy; scoped rules say why they do not apply', async (t) => {
  const dir = t.testdir({
    'p.yaml': `version: 1
groups:
  admins: [alice]
rules:
  - { id: admins-anything, kind: operations, effect: allow, operations: ["*"], groups: [admins] }
  - { id: no-build, kind: operations, operations: [image.build], exceptUsers: [ci] }
  - { id: priv, kind: privileged, mode: audit }
`,
  });
  const policy = join(dir, 'p.yaml');
  t.match(await run(['explain', '--policy', policy, '--method', 'post', '--path', '/build', '-u', 'alice']), {
    code: 0,
    out: /identity: +alice \(groups: admins\)[\s\S]*decision: +ALLOWED: allowed by rule admins-anything/,
  });
  const bob = await run(['explain', '--policy', policy, '-X', 'POST', '--path', '/build', '-u', 'bob']);
  t.match(bob, { code: 1, out: /skip +admins-anything +does not apply: only to groups admins \[alice\]; bob is not one of them/ });
  t.match(await run(['explain', '--policy', policy, '-X', 'POST', '--path', '/build', '-u', 'ci']), {
    code: 0,
    out: /skip +no-build +does not apply: ci is in its exceptUsers/,
  });
  t.match(await run(['explain', '--policy', policy, ...CREATE, ...body({ Privileged: true })]), {
    code: 0,
    out: /ALLOWED: allowed \(no rule matched\) \(audit: rule priv would deny\)[\s\S]*audit: +logged as "audit": denied by rule priv: [\s\S]*AUDIT +priv +would deny \(audit mode\)/,
  });
});

t.test('--authzreq: a recorded AuthZReq, as the daemon sent it (--user replaces its caller)', async (t) => {
  const recorded = corpusRequests('21', 'containers/create')[0]!;
  const dir = t.testdir({ 'req.json': JSON.stringify(recorded), 'bad.json': '{"RequestMethod":' });
  t.match(await run(['explain', '--authzreq', join(dir, 'req.json')]), {
    code: 1,
    out: /identity: +@anonymous[\s\S]*denied by rule no-privileged/,
  });
  t.match(await run(['explain', '--authzreq', join(dir, 'req.json'), '--user', 'bob', '--format', 'json']), {
    code: 1,
    out: /"identity": "bob"/,
  });
  t.match(await run(['explain', '--authzreq', join(dir, 'bad.json')]), { code: 3, err: /bad\.json: not JSON/ });
});

t.test('requests the plugin cannot judge are denied by the built-in rule, as in the plugin', async (t) => {
  t.match(await run(['explain', '-X', 'POST', '--path', '/containers/x/frobnicate']), {
    code: 1,
    out: /denied by rule unknown-operation[\s\S]*MATCH +unknown-operation .*\(AUTHZ_OPERATION_UNKNOWN\); no rule was consulted/,
  });
  t.match(await run(['explain', ...CREATE, '--body', '{"Image":"x","Image":"y"}', '--format', 'json']), {
    code: 1,
    out: /"rule": "request-integrity"[\s\S]*"code": "AUTHZ_BODY_AMBIGUOUS"/,
  });
});

t.test('usage errors exit 2; unreadable inputs and policies exit 3', async (t) => {
  const dir = t.testdir({ 'bad-policy.yaml': 'version: 1\nrules:\n  - { id: x, kind: privilegd }\n' });
  const usage: [string[], RegExp][] = [
    [[], /give --path PATH/],
    [['--path', 'containers/json'], /--path must start with "\/"/],
    [['--authzreq', 'x.json', '--path', '/x'], /cannot be combined with --path/],
    [[...CREATE, '--body', '{}', '--body-file', 'b.json'], /--body or --body-file, not both/],
    [['--path', '/x', '--greeted', '--not-greeted'], /--greeted or --not-greeted, not both/],
    [['--path', '/x', '--user', '@root'], /--user "@root": give a TLS user name/],
    [['--path', '/x', '--method', 'GE T'], /is not an HTTP method/],
    [['--path', '/x', '--format', 'yaml'], /--format must be text or json/],
  ];
  for (const [args, message] of usage) t.match(await run(['explain', ...args]), { code: 2, err: message }, args.join(' '));
  t.match(await run(['explain', ...CREATE, '--body-file', join(dir, 'missing.json')]), { code: 3, err: /cannot read the body .*ENOENT/ });
  t.match(await run(['explain', '--policy', join(dir, 'bad-policy.yaml'), '--path', '/x']), {
    code: 3,
    err: /bad-policy\.yaml:3:\d+: rule x: kind: "privilegd" is not one of/,
  });
});
