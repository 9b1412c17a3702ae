import { spawn } from 'node:child_process';
import { chown, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { callGateway } from '../gateway/control.js';
import type { ReloadResult } from '../gateway/gateway.js';
import { lookupAccounts, type Account } from '../gateway/passwd.js';
import { editPolicyGroups, groupsOf, type GroupsEdit } from '../policy/groups-edit.js';
import { formatIssue, loadPolicyFile } from '../policy/load.js';
import { GROUP_NAME, userNameProblem } from '../pki/names.js';
import { initPki, issueUser, listUsers, removeUser, renewUsers } from '../pki/pki.js';

export const USERS_USAGE = `usage: docker-authz users <command>

  init [--json]                        create the CA and the daemon's server certificate (idempotent)
                                       and print the dockerd TLS settings they need
  add NAME [--group G]... [--docker-context]
                                       give the Unix user NAME a client certificate (CN=NAME) and a
                                       socket; --group adds NAME to the policy's groups.G;
                                       --docker-context also creates and selects a docker context
                                       "docker-authz" in NAME's ~/.docker
  remove NAME                          delete NAME's certificate and key, close the socket and every
                                       open connection, and take NAME out of every policy group
  list                                 users, sockets, certificate expiry, groups
  renew [NAME]... [--force]            renew certificates due within 30 days (--force: now)

Groups are defined in the policy file's groups: section (AUTHZ_POLICY); --group edits it there.`;

const CONTEXT = 'docker-authz';

const socketOf = (config: Config, name: string) => join(config.usersSocketDir, `${name}.sock`);
const day = (d: Date) => d.toISOString().slice(0, 10);

type Args = ReturnType<typeof parse>;
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      group: { type: 'string', multiple: true, short: 'g' },
      'docker-context': { type: 'boolean' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** `docker-authz users ...`: the users' lifecycle. Resolves with the exit status. */
export async function usersCommand(config: Config, argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USERS_USAGE}`);
    return 2;
  }
  const [sub, ...names] = args.positionals;
  if (args.values.help || sub === 'help') {
    console.log(USERS_USAGE);
    return 0;
  }
  const allowed: Record<string, readonly string[]> = {
    init: ['json'],
    add: ['group', 'docker-context'],
    remove: [],
    list: [],
    renew: ['force'],
  };
  const given = Object.keys(args.values);
  if (sub === undefined || !(sub in allowed)) {
    console.error(USERS_USAGE);
    return 2;
  }
  const stray = given.find((o) => !allowed[sub]!.includes(o));
  if (stray) {
    console.error(`users ${sub}: --${stray} is not an option of this command\n\n${USERS_USAGE}`);
    return 2;
  }
  const one = () => {
    if (names.length !== 1) {
      console.error(`users ${sub}: give exactly one user name\n\n${USERS_USAGE}`);
      return undefined;
    }
    const problem = userNameProblem(names[0]!);
    if (problem) console.error(`users ${sub}: ${problem}`);
    return problem ? undefined : names[0]!;
  };
  switch (sub) {
    case 'init':
      return init(config, args.values.json ?? false);
    case 'add': {
      const name = one();
      return name === undefined ? 2 : add(config, name, args.values.group ?? [], args.values['docker-context'] ?? false);
    }
    case 'remove': {
      const name = one();
      return name === undefined ? 2 : remove(config, name);
    }
    case 'list':
      return list(config);
    default:
      return renew(config, names, args.values.force ?? false);
  }
}

async function init(config: Config, json: boolean): Promise<number> {
  const r = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  const { host, port } = config.daemonTls;
  const tcp = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (json) {
    console.log(
      JSON.stringify({ tcp, tlscacert: r.paths.caCert, tlscert: r.paths.serverCert, tlskey: r.paths.serverKey, changed: r.changed }),
    );
    return 0;
  }
  console.log(`CA:                  ${r.paths.caCert} (expires ${day(r.ca.notAfter)})${r.changed.includes('ca') ? ' [created]' : ''}`);
  console.log(
    `server certificate:  ${r.paths.serverCert} (for ${r.server.sans.join(', ')}; expires ${day(r.server.notAfter)})${r.changed.includes('server') ? ' [issued: dockerd uses it from its next start]' : ''}`,
  );
  console.log(`\ndockerd needs a TLS listener that verifies clients with this CA, next to its unix socket:`);
  console.log(`  -H ${tcp} --tlsverify --tlscacert=${r.paths.caCert} --tlscert=${r.paths.serverCert} --tlskey=${r.paths.serverKey}`);
  return 0;
}

/** Reads the policy file and computes the edit; undefined (after printing why) when it cannot be made. */
async function planPolicyEdit(
  config: Config,
  edit: GroupsEdit,
): Promise<{ file: string; text: string; changed: boolean; reformatted: boolean } | undefined> {
  const file = config.policyFile;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot read the policy: ${(err as Error).message}`);
    return undefined;
  }
  const r = editPolicyGroups(text, file, edit);
  if (!r.ok) {
    console.error(`${file}: the policy is not valid, so its groups cannot be edited; fix it first (docker-authz check):`);
    for (const i of r.issues) console.error(`  ${formatIssue(i)}`);
    return undefined;
  }
  return { file, text: r.text, changed: r.changed, reformatted: r.reformatted };
}

// Replaces the policy file in one rename (the plugin reloads on it), keeping its owner and mode.
async function writePolicy(file: string, text: string): Promise<void> {
  const real = await realpath(file);
  const st = await stat(real);
  const tmp = join(dirname(real), `.${basename(real)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'wx', st.mode & 0o7777);
  try {
    await fh.writeFile(text);
    await fh.sync();
    await fh.close();
    await chown(tmp, st.uid, st.gid);
    await rename(tmp, real);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

async function reloadGateway(config: Config): Promise<ReloadResult | undefined> {
  try {
    return await callGateway(config.gatewaySocket, 'POST', '/reload');
  } catch (err) {
    console.error(`the gateway did not reload: ${(err as Error).message}`);
    return undefined;
  }
}

const NOT_RUNNING = (config: Config) =>
  `the gateway is not running (nothing answers on ${config.gatewaySocket}); start it: systemctl start docker-authz-gateway (or docker-authz gateway)`;

async function add(config: Config, name: string, groups: string[], context: boolean): Promise<number> {
  const bad = groups.find((g) => !GROUP_NAME.test(g));
  if (bad !== undefined) {
    console.error(`users add: "${bad}" is not a valid group name (letters, digits, "_", "." and "-")`);
    return 2;
  }
  if (groups.length > 0 && config.policyFile === undefined) {
    console.error(
      'users add --group: groups are defined in the policy file, but AUTHZ_POLICY is not set (the built-in default policy is in use).\n' +
        'Copy policy/default.yaml to /etc/docker-authz/policy.yaml, set AUTHZ_POLICY to it, and run this again.',
    );
    return 2;
  }
  const account = (await lookupAccounts([name])).get(name);
  if (!account) {
    console.error(`users add: there is no Unix user "${name}" (getent passwd ${name}); create the account first, e.g. useradd -m ${name}`);
    return 1;
  }
  const plan = groups.length > 0 ? await planPolicyEdit(config, { kind: 'add', user: name, groups }) : undefined;
  if (groups.length > 0 && plan === undefined) return 1;

  const pki = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  if (pki.changed.includes('ca'))
    console.log(
      `created a new CA in ${config.pkiDir}: dockerd must trust it and use the server certificate (docker-authz users init shows how)`,
    );
  const cert = await issueUser(config.pkiDir, name);
  console.log(`${name}: certificate ${cert.action} (CN=${name}, expires ${day(cert.info.notAfter)})`);

  if (plan) {
    if (plan.changed) await writePolicy(plan.file, plan.text);
    console.log(
      `${name}: groups ${groups.join(', ')} ${plan.changed ? 'written to' : 'already in'} ${plan.file}${plan.reformatted ? ' (the file was re-rendered: its layout was too unusual for an in-place edit; comments are kept)' : ''}`,
    );
  }

  const socket = socketOf(config, name);
  const served = await reloadGateway(config);
  let status = 0;
  if (!served) console.log(`${name}: ${NOT_RUNNING(config)}; ${socket} appears then`);
  else if (served.users.some((u) => u.name === name)) console.log(`${name}: the gateway serves ${socket} (owner ${name}, mode 0600)`);
  else {
    const why = served.errors.find((e) => e.user === name)?.message ?? 'unknown reason';
    console.error(`${name}: the gateway does not serve ${socket}: ${why}`);
    status = 1;
  }
  if (context) status = Math.max(status, await writeDockerContext(account, socket));
  console.log(
    `\nFor ${name} (e.g. in ~/.profile)${context ? ', unless the docker context is used' : ''}:\n  export DOCKER_HOST=unix://${socket}`,
  );
  return status;
}

// Run as the user (never as root inside someone's home: a symlink there would redirect a root
// write), with the user's own docker CLI config.
function runAs(account: Account, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, {
      uid: account.uid,
      gid: account.gid,
      cwd: account.home || '/',
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: account.home, USER: account.name, LOGNAME: account.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', (err) => resolve({ code: 127, output: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, output: output.trim() }));
  });
}

async function writeDockerContext(account: Account, socket: string): Promise<number> {
  const endpoint = ['--docker', `host=unix://${socket}`];
  let r = await runAs(account, ['context', 'create', CONTEXT, '--description', 'docker-authz user gateway', ...endpoint]);
  if (r.code !== 0 && /already exists/.test(r.output)) r = await runAs(account, ['context', 'update', CONTEXT, ...endpoint]);
  if (r.code === 0) r = await runAs(account, ['context', 'use', CONTEXT]);
  if (r.code !== 0) {
    console.error(`${account.name}: could not write the docker context: ${r.output}`);
    return 1;
  }
  console.log(`${account.name}: docker context "${CONTEXT}" created and selected in ${account.home}/.docker`);
  return 0;
}

async function remove(config: Config, name: string): Promise<number> {
  const hadCert = await removeUser(config.pkiDir, name);
  console.log(`${name}: ${hadCert ? 'certificate and key deleted' : 'had no certificate'}`);
  let status = 0;
  const served = await reloadGateway(config);
  if (!served) console.log(`${name}: ${NOT_RUNNING(config)}`);
  else if (served.users.some((u) => u.name === name)) {
    console.error(`${name}: the gateway still serves ${socketOf(config, name)}`);
    status = 1;
  } else if (hadCert) console.log(`${name}: socket removed and open connections closed`);

  let inGroups = false;
  if (config.policyFile !== undefined) {
    const plan = await planPolicyEdit(config, { kind: 'remove', user: name });
    if (!plan) status = 1;
    else if (plan.changed) {
      await writePolicy(plan.file, plan.text);
      inGroups = true;
      console.log(`${name}: removed from every group in ${plan.file}`);
    }
  }
  if (!hadCert && !inGroups) {
    console.error(`users remove: no user "${name}"`);
    return Math.max(status, 1);
  }
  return status;
}

async function list(config: Config): Promise<number> {
  const users = await listUsers(config.pkiDir);
  const loaded = loadPolicyFile(config.policyFile);
  if (!loaded.ok) console.error(`groups unknown: ${loaded.issues.map(formatIssue).join('; ')}`);
  let status: ReloadResult | undefined;
  try {
    status = await callGateway(config.gatewaySocket, 'GET', '/status');
  } catch {
    status = undefined;
  }
  if (users.length === 0) {
    console.log(`no users (docker-authz users add NAME)`);
    return 0;
  }
  const rows = users.map((u) => {
    const live = status?.users.find((s) => s.name === u.name);
    const problem = status?.errors.find((e) => e.user === u.name)?.message;
    return [
      u.name,
      socketOf(config, u.name),
      u.info ? day(u.info.notAfter) : (u.problem ?? '?'),
      loaded.ok ? groupsOf(loaded.policy, u.name).join(',') || '-' : '?',
      status === undefined
        ? 'gateway not running'
        : live
          ? `served (${live.connections} open)`
          : `NOT served: ${problem ?? 'not loaded yet'}`,
    ];
  });
  const header = ['USER', 'SOCKET', 'EXPIRES', 'GROUPS', 'STATUS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return 0;
}

async function renew(config: Config, names: string[], force: boolean): Promise<number> {
  const bad = names.map(userNameProblem).find(Boolean);
  if (bad) {
    console.error(`users renew: ${bad}`);
    return 2;
  }
  const pki = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  if (pki.changed.includes('server'))
    console.log(`server certificate re-issued (expires ${day(pki.server.notAfter)}): dockerd uses it from its next start`);
  const known = new Set((await listUsers(config.pkiDir)).map((u) => u.name));
  const missing = names.find((n) => !known.has(n));
  if (missing) {
    console.error(`users renew: no user "${missing}" (docker-authz users add ${missing})`);
    return 1;
  }
  for (const r of await renewUsers(config.pkiDir, { force, names: names.length ? names : undefined }))
    console.log(`${r.name}: ${r.action === 'kept' ? 'not due' : r.action}, expires ${day(r.info.notAfter)}`);
  const served = await reloadGateway(config);
  if (!served) console.log(NOT_RUNNING(config));
  return 0;
}
