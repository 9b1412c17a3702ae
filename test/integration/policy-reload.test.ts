/**
 * Policy reload without restart, against the real plugin process (node dist/cli.js serve) on a
 * temp socket; requests are AuthZReq envelopes like the daemon's, sent straight to the socket.
 *
 * Three triggers: a change of the file (replaced by rename, as editors and config management do),
 * SIGHUP, and `docker-authz reload`. A valid policy takes effect on the next request; an invalid
 * one is rejected with file:line:col errors in the log while the last good policy stays in force;
 * the hello state is untouched by reloads.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { unixRequest } from '../helpers/http.js';
import { PLUGIN_CLI } from '../helpers/paths.js';
import { spawnPlugin, type PluginProcess } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';

const header = (hello: boolean) => `version: 1\nhello:\n  enabled: ${hello}\n`;
const OPEN = `${header(false)}rules: []\n`;
const NO_PS = `${header(false)}rules:\n  - id: no-ps\n    kind: operations\n    effect: deny\n    operations: [container.list]\n`;
const NO_PS_NO_IMAGES = `${header(false)}rules:\n  - id: no-ps\n    kind: operations\n    effect: deny\n    operations: [container.list]\n  - id: no-images\n    kind: operations\n    effect: deny\n    operations: [image.list]\n`;
// line 5, column 1: a duplicate key
const BROKEN_SYNTAX = `${header(false)}rules: []\nrules: []\n`;
// line 4: a rule kind that does not exist
const BROKEN_SCHEMA = `${header(false)}rules:\n  - id: bogus\n    kind: no-such-kind\n`;

const envelope = (uri: string) =>
  JSON.stringify({ RequestMethod: 'GET', RequestUri: uri, RequestHeaders: { 'User-Agent': 'Docker-Client/28.2.2 (linux)' }, User: '' });

async function decide(p: PluginProcess, uri: string): Promise<{ Allow: boolean; Msg?: string }> {
  const r = await unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: envelope(uri), timeoutMs: 5_000 });
  if (r.status !== 200) throw new Error(`AuthZReq answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as { Allow: boolean; Msg?: string };
}
const PS = '/v1.41/containers/json';
const IMAGES = '/v1.41/images/json';

async function setup(t: Test, initial: string, state?: object) {
  const dir = await makeTempDir('pr-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policy = path.join(dir, 'policy.yaml');
  await writeFile(policy, initial);
  const stateDir = path.join(dir, 'state');
  await mkdir(stateDir);
  if (state) await writeFile(path.join(stateDir, 'hello.json'), JSON.stringify(state));
  const p = await spawnPlugin({ socket: path.join(dir, 'authz.sock'), stateDir, policyFile: policy });
  t.teardown(() => p.stop());
  // Replace by rename: the watcher must see it although the old inode is gone.
  const replace = async (text: string) => {
    await writeFile(`${policy}.tmp`, text);
    await rename(`${policy}.tmp`, policy);
  };
  return { dir, policy, p, replace, stateDir };
}

const reloaded = (o: { msg?: string }) => o.msg === 'policy reloaded';
const rejected = (o: { msg?: string }) => o.msg === 'policy reload rejected; the previous policy stays in force';

t.test('a changed file is reloaded: valid takes effect, invalid is rejected and the old rules stay', async (t) => {
  const { policy, p, replace } = await setup(t, OPEN);
  t.match(await decide(p, PS), { Allow: true }, 'docker ps allowed by the first policy');

  let mark = p.lines().length;
  await replace(NO_PS);
  await p.waitForLine(reloaded, 10_000, mark);
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'the next request after the reload uses the new rule');

  mark = p.lines().length;
  await replace(BROKEN_SYNTAX);
  const bad = (await p.waitForLine(rejected, 10_000, mark)) as { errors: string[] };
  t.match(bad.errors, [new RegExp(`^${policy.replaceAll('/', '\\/')}:5:1: `)], 'the error names file:line:col', { errors: bad.errors });
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'the last good policy stays in force');
  t.match(await decide(p, IMAGES), { Allow: true });

  mark = p.lines().length;
  await replace(BROKEN_SCHEMA);
  const bad2 = (await p.waitForLine(rejected, 10_000, mark)) as { errors: string[] };
  t.match(bad2.errors, [new RegExp(`^${policy.replaceAll('/', '\\/')}:6:\\d+: `)], 'a schema error names file:line:col too', {
    errors: bad2.errors,
  });
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'still the last good policy');

  mark = p.lines().length;
  await replace(NO_PS_NO_IMAGES);
  await p.waitForLine(reloaded, 10_000, mark);
  t.match(await decide(p, IMAGES), { Allow: false, Msg: /no-images/ }, 'a valid file after invalid ones is picked up');
  t.equal(p.exitStatus(), undefined, 'the plugin never restarted');
});

t.test('SIGHUP reloads; an invalid file on SIGHUP keeps the old rules', async (t) => {
  const { policy, p } = await setup(t, OPEN);
  // Written in place (no rename) and read on SIGHUP; the watcher may also fire, either is a reload.
  let mark = p.lines().length;
  await writeFile(policy, NO_PS);
  process.kill(p.pid, 'SIGHUP');
  await p.waitForLine(reloaded, 10_000, mark);
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'new rule after SIGHUP');

  mark = p.lines().length;
  await writeFile(policy, BROKEN_SYNTAX);
  process.kill(p.pid, 'SIGHUP');
  await p.waitForLine(rejected, 10_000, mark);
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'old rules after a rejected SIGHUP reload');
  t.equal(p.exitStatus(), undefined, 'SIGHUP did not stop the plugin');
});

t.test('docker-authz reload reports the outcome', async (t) => {
  const { policy, p } = await setup(t, OPEN);
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [PLUGIN_CLI, ...args], {
      encoding: 'utf8',
      cwd: path.dirname(policy),
      env: { PATH: process.env.PATH, AUTHZ_SOCKET: p.socket, AUTHZ_POLICY: policy },
    });
  // Written with the watcher racing the CLI: the outcome is the same whichever reload runs first.
  await writeFile(policy, NO_PS);
  const ok = cli('reload');
  t.equal(ok.status, 0, 'exit 0', { stderr: ok.stderr });
  t.equal(ok.stdout.trim(), `policy reloaded from ${policy}`);
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ });

  await writeFile(policy, BROKEN_SYNTAX);
  const bad = cli('reload');
  t.equal(bad.status, 1, 'exit 1 for a rejected policy');
  t.match(bad.stderr, /policy rejected; the policy in force stays/);
  t.match(bad.stderr, new RegExp(`${policy.replaceAll('/', '\\/')}:5:1: `), 'with file:line:col');
  t.match(await decide(p, PS), { Allow: false, Msg: /no-ps/ }, 'old rules stay');

  await p.stop();
  const down = cli('reload');
  t.equal(down.status, 3, 'exit 3 when the plugin is not running');
  t.match(down.stderr, /not running/);
});

t.test('the hello state is untouched by reloads', async (t) => {
  const greeted = { version: 1, greeted: { '@anonymous': { at: '2026-01-01T00:00:00.000Z' } } };
  const { p, replace, stateDir } = await setup(t, `${header(true)}rules: []\n`, greeted);
  t.match(await decide(p, PS), { Allow: true }, 'greeted caller: docker ps allowed');
  const mark = p.lines().length;
  await replace(`${header(true)}rules:\n  - id: no-images\n    kind: operations\n    effect: deny\n    operations: [image.list]\n`);
  await p.waitForLine(reloaded, 10_000, mark);
  t.match(await decide(p, IMAGES), { Allow: false, Msg: /no-images/ }, 'the new policy is in force');
  t.match(await decide(p, PS), { Allow: true }, 'and the caller is still greeted');
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [PLUGIN_CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, AUTHZ_STATE_DIR: stateDir } });
  t.equal(cli('hello', 'status').stdout, '@anonymous\t2026-01-01T00:00:00.000Z\n', 'the greeting list survived the reload');

  // Sanity: the gate is live, so "still greeted" above means something.
  t.equal(cli('hello', 'reset', '--all').status, 0);
  await pollUntil(async () => !(await decide(p, PS)).Allow, { timeoutMs: 5_000, what: 'the gate to close after a reset' });
  t.match(await decide(p, PS), { Allow: false, Msg: /You must say hello first/ }, 'ungreeted callers are refused by this policy');
});
