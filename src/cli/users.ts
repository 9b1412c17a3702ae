import { spawn } from 'node:child_process';
import { chown, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { EXIT, UsageError, type Command, type CommandContext } from './command.js';
import { callGateway } from '../gateway/control.js';
import type { ReloadResult } from '../gateway/gateway.js';
import { lookupAccounts, type Account } from '../gateway/passwd.js';
import { editPolicyGroups, groupsOf, type GroupsEdit } from '../policy/groups-edit.js';
import { formatIssue, loadPolicyFile } from '../policy/load.js';
import { GROUP_NAME, userNameProblem } from '../pki/names.js';
import { initPki, issueUser, listUsers, removeUser, renewUsers } from '../pki/pki.js';

const CONTEXT = 'docker-authz';

const socketOf = (config: Config, name: string) => join(config.usersSocketDir, `${name}.sock`);
const day = (d: Date) => d.toISOString().slice(0, 10);

async function init(config: Config, io: Io, json: boolean): Promise<number> {
  const r = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  const { host, port } = config.daemonTls;
  const tcp = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (json) {
    io.out(JSON.stringify({ tcp, tlscacert: r.paths.caCert, tlscert: r.paths.serverCert, tlskey: r.paths.serverKey, changed: r.changed }));
    return EXIT.OK;
  }
  io.out(`CA:                  ${r.paths.caCert} (expires ${day(r.ca.notAfter)})${r.changed.includes('ca') ? ' [created]' : ''}`);
  io.out(
    `server certificate:  ${r.paths.serverCert} (for ${r.server.sans.join(', ')}; expires ${day(r.server.notAfter)})${r.changed.includes('server') ? ' [issued: dockerd uses it from its next start]' : ''}`,
  );
  io.out(`\ndockerd needs a TLS listener that verifies clients with this CA, next to its unix socket:`);
  io.out(`  -H ${tcp} --tlsverify --tlscacert=${r.paths.caCert} --tlscert=${r.paths.serverCert} --tlskey=${r.paths.serverKey}`);
  return EXIT.OK;
}

/** Reads the policy file and computes the edit; undefined (after printing why) when it cannot be made. */
async function planPolicyEdit(
  config: Config,
  io: Io,
  edit: GroupsEdit,
): Promise<{ file: string; text: string; changed: boolean; reformatted: boolean } | undefined> {
  const file = config.policyFile;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    io.err(`${file}: cannot read the policy: ${(err as Error).message}`);
    return undefined;
  }
  const r = editPolicyGroups(text, file, edit);
  if (!r.ok) {
    io.err(`${file}: the policy is not valid, so its groups cannot be edited; fix it first (docker-authz check):`);
    for (const i of r.issues) io.err(`  ${formatIssue(i)}`);
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

async function reloadGateway(config: Config, io: Io): Promise<ReloadResult | undefined> {
  try {
    return await callGateway(config.gatewaySocket, 'POST', '/reload');
  } catch (err) {
    io.err(`the gateway did not reload: ${(err as Error).message}`);
    return undefined;
  }
}

const NOT_RUNNING = (config: Config) =>
  `the gateway is not running (nothing answers on ${config.gatewaySocket}); start it: systemctl start docker-authz-gateway (or docker-authz gateway)`;

async function add(config: Config, io: Io, name: string, groups: string[], context: boolean): Promise<number> {
  const bad = groups.find((g) => !GROUP_NAME.test(g));
  if (bad !== undefined) {
    io.err(`users add: "${bad}" is not a valid group name (letters, digits, "_", "." and "-")`);
    return EXIT.USAGE;
  }
  if (groups.length > 0 && config.policyFile === undefined) {
    io.err(
      'users add --group: groups are defined in the policy file, but AUTHZ_POLICY is not set (the built-in default policy is in use).\n' +
        'Copy policy/default.yaml to /etc/docker-authz/policy.yaml, set AUTHZ_POLICY to it, and run this again.',
    );
    return EXIT.USAGE;
  }
  const account = (await lookupAccounts([name])).get(name);
  if (!account) {
    io.err(`users add: there is no Unix user "${name}" (getent passwd ${name}); create the account first, e.g. useradd -m ${name}`);
    return EXIT.FAILED;
  }
  const plan = groups.length > 0 ? await planPolicyEdit(config, io, { kind: 'add', user: name, groups }) : undefined;
  if (groups.length > 0 && plan === undefined) return EXIT.FAILED;

  const pki = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  if (pki.changed.includes('ca'))
    io.out(
      `created a new CA in ${config.pkiDir}: dockerd must trust it and use the server certificate (docker-authz users init shows how)`,
    );
  const cert = await issueUser(config.pkiDir, name);
  io.out(`${name}: certificate ${cert.action} (CN=${name}, expires ${day(cert.info.notAfter)})`);

  if (plan) {
    if (plan.changed) await writePolicy(plan.file, plan.text);
    io.out(
      `${name}: groups ${groups.join(', ')} ${plan.changed ? 'written to' : 'already in'} ${plan.file}${plan.reformatted ? ' (the file was re-rendered: its layout was too unusual for an in-place edit; comments are kept)' : ''}`,
    );
  }

  const socket = socketOf(config, name);
  const served = await reloadGateway(config, io);
  let status = 0;
  if (!served) io.out(`${name}: ${NOT_RUNNING(config)}; ${socket} appears then`);
  else if (served.users.some((u) => u.name === name)) io.out(`${name}: the gateway serves ${socket} (owner ${name}, mode 0600)`);
  else {
    const why = served.errors.find((e) => e.user === name)?.message ?? 'unknown reason';
    io.err(`${name}: the gateway does not serve ${socket}: ${why}`);
    status = EXIT.FAILED;
  }
  if (context) status = Math.max(status, await writeDockerContext(io, account, socket));
  io.out(
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

async function writeDockerContext(io: Io, account: Account, socket: string): Promise<number> {
  const endpoint = ['--docker', `host=unix://${socket}`];
  let r = await runAs(account, ['context', 'create', CONTEXT, '--description', 'docker-authz user gateway', ...endpoint]);
  if (r.code !== 0 && /already exists/.test(r.output)) r = await runAs(account, ['context', 'update', CONTEXT, ...endpoint]);
  if (r.code === 0) r = await runAs(account, ['context', 'use', CONTEXT]);
  if (r.code !== 0) {
    io.err(`${account.name}: could not write the docker context: ${r.output}`);
    return EXIT.FAILED;
  }
  io.out(`${account.name}: docker context "${CONTEXT}" created and selected in ${account.home}/.docker`);
  return EXIT.OK;
}

async function remove(config: Config, io: Io, name: string): Promise<number> {
  const hadCert = await removeUser(config.pkiDir, name);
  io.out(`${name}: ${hadCert ? 'certificate and key deleted' : 'had no certificate'}`);
  let status = 0;
  const served = await reloadGateway(config, io);
  if (!served) io.out(`${name}: ${NOT_RUNNING(config)}`);
  else if (served.users.some((u) => u.name === name)) {
    io.err(`${name}: the gateway still serves ${socketOf(config, name)}`);
    status = EXIT.FAILED;
  } else if (hadCert) io.out(`${name}: socket removed and open connections closed`);

  let inGroups = false;
  if (config.policyFile !== undefined) {
    const plan = await planPolicyEdit(config, io, { kind: 'remove', user: name });
    if (!plan) status = EXIT.FAILED;
    else if (plan.changed) {
      await writePolicy(plan.file, plan.text);
      inGroups = true;
      io.out(`${name}: removed from every group in ${plan.file}`);
    }
  }
  if (!hadCert && !inGroups) {
    io.err(`users remove: no user "${name}"`);
    return Math.max(status, EXIT.FAILED);
  }
  return status;
}

async function list(config: Config, io: Io): Promise<number> {
  const users = await listUsers(config.pkiDir);
  const loaded = loadPolicyFile(config.policyFile);
  if (!loaded.ok) io.err(`groups unknown: ${loaded.issues.map(formatIssue).join('; ')}`);
  let status: ReloadResult | undefined;
  try {
    status = await callGateway(config.gatewaySocket, 'GET', '/status');
  } catch {
    status = undefined;
  }
  if (users.length === 0) {
    io.out(`no users (docker-authz users add NAME)`);
    return EXIT.OK;
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
  for (const r of [header, ...rows]) io.out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return EXIT.OK;
}

async function renew(config: Config, io: Io, names: readonly string[], force: boolean): Promise<number> {
  const pki = await initPki(config.pkiDir, { serverHosts: [config.daemonTls.host] });
  if (pki.changed.includes('server'))
    io.out(`server certificate re-issued (expires ${day(pki.server.notAfter)}): dockerd uses it from its next start`);
  const known = new Set((await listUsers(config.pkiDir)).map((u) => u.name));
  const missing = names.find((n) => !known.has(n));
  if (missing) {
    io.err(`users renew: no user "${missing}" (docker-authz users add ${missing})`);
    return EXIT.FAILED;
  }
  for (const r of await renewUsers(config.pkiDir, { force, names: names.length ? [...names] : undefined }))
    io.out(`${r.name}: ${r.action === 'kept' ? 'not due' : r.action}, expires ${day(r.info.notAfter)}`);
  const served = await reloadGateway(config, io);
  if (!served) io.out(NOT_RUNNING(config));
  return EXIT.OK;
}

type Io = Pick<CommandContext, 'out' | 'err'>;

/** The one user name a command takes, checked. */
function userName(ctx: CommandContext): string {
  const name = ctx.positionals[0]!;
  const problem = userNameProblem(name);
  if (problem) throw new UsageError(problem);
  return name;
}

const GROUPS_NOTE = "Groups are defined in the policy file's groups: section (AUTHZ_POLICY); --group edits it there.";

export const usersInitCommand: Command = {
  name: 'users init',
  summary: "Create the users' CA and the daemon's server certificate (idempotent); print the dockerd TLS settings.",
  options: { json: { type: 'boolean', description: 'print the settings as JSON (for the installer)' } },
  run: (ctx) => init(ctx.config(), ctx, ctx.values.json === true),
};

export const usersAddCommand: Command = {
  name: 'users add',
  args: 'NAME',
  summary: 'Give the Unix user NAME a client certificate (CN=NAME) and a socket of their own.',
  description: `Prints the one line NAME needs (DOCKER_HOST=unix://...). ${GROUPS_NOTE}`,
  options: {
    group: { type: 'string', multiple: true, short: 'g', valueName: 'G', description: "add NAME to the policy's groups.G (repeatable)" },
    'docker-context': { type: 'boolean', description: 'also create and select a docker context "docker-authz" in NAME\'s ~/.docker' },
  },
  positionals: { min: 1, max: 1 },
  run: (ctx) =>
    add(ctx.config(), ctx, userName(ctx), (ctx.values.group as string[] | undefined) ?? [], ctx.values['docker-context'] === true),
};

export const usersRemoveCommand: Command = {
  name: 'users remove',
  args: 'NAME',
  summary: "Delete NAME's certificate and key, close the socket and every open connection, leave every policy group.",
  positionals: { min: 1, max: 1 },
  run: (ctx) => remove(ctx.config(), ctx, userName(ctx)),
};

export const usersListCommand: Command = {
  name: 'users list',
  summary: 'Users, sockets, certificate expiry, groups, and whether the gateway serves them.',
  run: (ctx) => list(ctx.config(), ctx),
};

export const usersRenewCommand: Command = {
  name: 'users renew',
  args: '[NAME...]',
  summary: 'Renew certificates due within 30 days (all users, or these).',
  options: { force: { type: 'boolean', description: 'renew now, whatever the expiry' } },
  positionals: { max: Infinity },
  run(ctx) {
    const bad = ctx.positionals.map(userNameProblem).find(Boolean);
    if (bad) throw new UsageError(bad);
    return renew(ctx.config(), ctx, ctx.positionals, ctx.values.force === true);
  },
};

export const USERS_COMMANDS = [usersInitCommand, usersAddCommand, usersRemoveCommand, usersListCommand, usersRenewCommand];
