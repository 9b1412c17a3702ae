#!/usr/bin/env node
// Helper for install-authz.sh and uninstall-authz.sh: the parts that are JSON, HTTP or Node itself,
// which shell does badly. Node's standard library only (it runs before any npm install). Not a
// public interface.
//
//   node install-helper.mjs version-ok MIN                   exit 0 when this node is >= MIN
//   node install-helper.mjs package-field DIR FIELD          print a field of DIR/package.json
//   node install-helper.mjs json-check FILE                  exit 0 when FILE is missing or a valid daemon.json
//   node install-helper.mjs json-edit add|remove FILE NAME OUT
//                                                            write the edited daemon.json to OUT;
//                                                            exit 0 changed, 3 unchanged, 1 error
//   node install-helper.mjs pm2-jlist FIELD [APP]            read `pm2 jlist` on stdin; print FIELD
//                                                            (name, pid, or a pm2_env key) of every app, or of APP
//   node install-helper.mjs copy-deps FROM TO                copy the production dependencies TO/package-lock.json
//                                                            locks from FROM/node_modules, if FROM has every one
//                                                            at the locked version; exit 0 copied, 3 not (why)
//   node install-helper.mjs native-deps DIR                  print the packages in DIR/node_modules that
//                                                            build native code at install (one per line)
//   node install-helper.mjs native-reuse FROM TO PKG         copy PKG's compiled addon from FROM/PKG to TO/PKG
//                                                            if both are the same version and it loads in
//                                                            this node (same ABI); exit 0 copied, 3 not
//                                                            (check TO with native-check: a separate process)
//   node install-helper.mjs native-check DIR PKG             exit 0 when DIR/PKG's addon loads in this node
//   node install-helper.mjs wait-plugin SOCKET SECONDS       wait until GET /health answers 200
//   node install-helper.mjs wait-http SOCKET PATH SECONDS [NAME]
//                                                            wait until GET PATH answers 200 on a unix socket
//   node install-helper.mjs env-get FILE KEY=DEFAULT...      print each KEY from an env file (KEY=value lines), or
//                                                            its DEFAULT, one a line
//   node install-helper.mjs json-get FILE KEY                print daemon.json's KEY as JSON (nothing when unset)
//   node install-helper.mjs daemon-socket FILE               print the first unix:// path in daemon.json's "hosts"
//   node install-helper.mjs users-plan --daemon-json FILE --address HOST:PORT --pki DIR --out DIR
//                                      [--record JSON] [--cmdline FILE] [--unit FILE]... [--listen VALUE]...
//       the daemon side of --users: OUT/daemon.json (the TLS settings and listeners), OUT/record (what
//       to undo), OUT/dropin (docker.service drop-in, when its ExecStart has -H); notes on stdout;
//       exit 0 (the plan) or 1 (why it cannot be done). --unit: docker.service and its drop-ins
//       (without docker-authz's own), in order; --listen: docker.socket's Listen= values
//   node install-helper.mjs users-undo FILE RECORD OUT       write daemon.json with the keys --users set as
//                                                            they were before; exit 0 changed, 3 unchanged
//   node install-helper.mjs tls-probe HOST:PORT CAFILE SECONDS
//       exit 0: a TLS server whose certificate CAFILE signed answers; 3: nothing listens; 4: something else
//   node install-helper.mjs policy-mode RELEASE_DIR FILE     print the policy's top-level mode (enforce|audit)
//   node install-helper.mjs audit-policy IN OUT              write IN with the top-level "mode: audit"
//   node install-helper.mjs verify on|off DAEMON_SOCKET PLUGIN_SOCKET SECONDS LOG_SOURCE...
//       on:  the daemon consults the plugin (a /_ping through the daemon shows up in the decision log)
//       off: the daemon no longer consults it (a ping does not show up before a sentinel sent
//            straight to the plugin; or, when the plugin is down, the ping answers promptly)
//
// Log SOURCEs: file:PATH (a log file; decisions appended from now on) or journal:UNIT.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const [cmd, ...args] = process.argv.slice(2);
const require = createRequire(import.meta.url);

function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

function versionAtLeast(have, want) {
  const a = have.replace(/^v/, '').split('.').map(Number);
  const b = want.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

// Reads daemon.json: undefined when missing; throws a readable message when unusable.
function readDaemonJson(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${err.message}`, { cause: err });
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${err.message}). dockerd would refuse it too; fix it first.`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${file} must hold a JSON object, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const list = value['authorization-plugins'];
  if (list !== undefined && !(Array.isArray(list) && list.every((p) => typeof p === 'string'))) {
    throw new Error(`${file}: "authorization-plugins" must be a list of plugin names, found ${JSON.stringify(list)}`);
  }
  return value;
}

function editDaemonJson(op, file, name, out) {
  const value = readDaemonJson(file) ?? {};
  const list = value['authorization-plugins'] ?? [];
  let next;
  if (op === 'add') {
    if (list.includes(name)) return false;
    next = { ...value, 'authorization-plugins': [...list, name] };
  } else if (op === 'remove') {
    if (!list.includes(name)) return false;
    const rest = list.filter((p) => p !== name);
    next = { ...value };
    if (rest.length > 0) next['authorization-plugins'] = rest;
    else delete next['authorization-plugins'];
  } else {
    fail(`json-edit: unknown operation ${op}`, 2);
  }
  writeFileSync(out, `${JSON.stringify(next, null, 2)}\n`);
  return true;
}

// `pm2 jlist` prints the list as one JSON line, possibly after others ("[PM2] Spawning PM2 daemon",
// colored: a '[' does not mark the list).
function pm2Apps(text) {
  for (const line of text.split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try {
      const list = JSON.parse(line);
      if (Array.isArray(list)) return list;
    } catch {
      /* a log line that starts with '[' */
    }
  }
  return [];
}

// --- production dependencies --------------------------------------------------------------------

// The production packages of a lockfile (v2/v3 "packages"): path -> { version, optional }.
function lockedProduction(lockFile) {
  const lock = readJson(lockFile);
  if (!lock.packages) throw new Error(`${lockFile} has no "packages" (lockfileVersion ${lock.lockfileVersion}; npm >= 7 writes them)`);
  const out = new Map();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.link || !path.startsWith('node_modules/')) continue;
    out.set(path, { version: entry.version, optional: Boolean(entry.optional || entry.devOptional) });
  }
  return out;
}

// Copies the locked production tree from FROM (an installed checkout or build) instead of asking
// npm again: no network, and native addons come already built. Returns why not, or undefined.
function copyDeps(from, to) {
  const wanted = lockedProduction(join(to, 'package-lock.json'));
  const present = [];
  for (const [path, { version, optional }] of wanted) {
    const manifest = join(from, path, 'package.json');
    if (!existsSync(manifest)) {
      if (optional) continue;
      return `${join(from, path)} is missing`;
    }
    const have = readJson(manifest).version;
    if (have !== version) return `${join(from, path)} is ${have}, the lockfile says ${version}`;
    present.push(path);
  }
  for (const path of present) {
    // Nested node_modules are packages of their own in the list (or dev-only: not wanted). Of a
    // node-gyp build, only the addons (build/Release/*.node) are needed, not the compiler's objects.
    const pkg = join(from, path);
    const nested = join(pkg, 'node_modules');
    const gyp = existsSync(join(pkg, 'binding.gyp'));
    const build = join(pkg, 'build');
    const release = join(build, 'Release');
    cpSync(pkg, join(to, path), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => {
        if (src === nested) return false;
        if (!gyp || src === build || src === release || !src.startsWith(`${build}/`)) return true;
        return src.startsWith(`${release}/`) && src.endsWith('.node') && !src.slice(release.length + 1).includes('/');
      },
    });
  }
  return undefined;
}

// --- native addons -------------------------------------------------------------------------------

// Packages under DIR/node_modules (scoped and nested too) that compile code when installed: npm runs
// `node-gyp rebuild` for a binding.gyp without an install script, and an install script otherwise.
function nativeDeps(dir) {
  const found = [];
  const walk = (modules) => {
    let names;
    try {
      names = readdirSync(join(dir, modules)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        for (const sub of readdirSync(join(dir, modules, name)).sort()) visit(join(modules, name, sub));
      } else visit(join(modules, name));
    }
  };
  const visit = (pkg) => {
    const manifest = join(dir, pkg, 'package.json');
    if (!existsSync(manifest)) return;
    const scripts = readJson(manifest).scripts ?? {};
    if (scripts.preinstall || scripts.install || scripts.postinstall || existsSync(join(dir, pkg, 'binding.gyp'))) found.push(pkg);
    walk(join(pkg, 'node_modules'));
  };
  walk('node_modules');
  return found;
}

// A smoke test per known addon: requiring the package is not enough where it loads the addon lazily.
const SMOKE = {
  'better-sqlite3': (mod) => {
    const db = new mod(':memory:');
    try {
      if (db.prepare('select 1 as one').get().one !== 1) throw new Error('select 1 failed');
    } finally {
      db.close();
    }
  },
};

// Loads DIR/PKG with this node; throws with the loader's message (e.g. "compiled against a different
// Node.js version using NODE_MODULE_VERSION 108") when its addon does not fit.
function loadNative(dir, pkg) {
  const path = resolve(dir, pkg);
  const name = readJson(join(path, 'package.json')).name;
  const mod = require(path);
  SMOKE[name]?.(mod);
}

// The compiled files of a node-gyp package: build/Release/*.node (what `bindings` and node-gyp-build load).
function addonFiles(pkgDir) {
  const release = join(pkgDir, 'build', 'Release');
  try {
    return readdirSync(release)
      .filter((f) => f.endsWith('.node'))
      .map((f) => join('build', 'Release', f));
  } catch {
    return [];
  }
}

function nativeReuse(from, to, pkg) {
  const version = (d) => readJson(join(d, pkg, 'package.json')).version;
  if (!existsSync(join(from, pkg, 'package.json'))) return `${from} has no ${pkg}`;
  if (version(from) !== version(to)) return `${from} has ${pkg} ${version(from)}, the release needs ${version(to)}`;
  const files = addonFiles(join(from, pkg));
  if (files.length === 0) return `${join(from, pkg)} has no compiled addon (build/Release/*.node)`;
  try {
    loadNative(from, pkg);
  } catch (err) {
    return `the build in ${from} does not load in node ${process.version} (ABI ${process.versions.modules}): ${err.message.split('\n')[0]}`;
  }
  for (const f of files) {
    mkdirSync(join(to, pkg, 'build', 'Release'), { recursive: true });
    copyFileSync(join(from, pkg, f), join(to, pkg, f));
  }
  return undefined;
}

// --- HTTP ----------------------------------------------------------------------------------------

function httpCall(socketPath, method, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const payload = body ?? '';
    const req = request(
      { socketPath, method, path, agent: false, headers: { host: 'localhost', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitHttp(socket, path, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    let problem;
    try {
      const res = await httpCall(socket, 'GET', path, undefined, 2_000);
      if (res.status === 200) return res.body.trim();
      problem = `GET ${path} answered ${res.status}`;
    } catch (err) {
      problem = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer on ${socket} within ${seconds} s: ${problem}`);
    await sleep(250);
  }
}

// --- decision-log access -------------------------------------------------------------------------

function mark(sources) {
  return sources.map((s) => {
    if (s.startsWith('file:')) {
      const path = s.slice(5);
      let size;
      try {
        size = statSync(path).size;
      } catch {
        size = 0;
      }
      return { kind: 'file', path, offset: size };
    }
    if (s.startsWith('journal:')) {
      const unit = s.slice(8);
      let cursor;
      try {
        const out = execFileSync('journalctl', ['-u', unit, '-n', '0', '--show-cursor', '--no-pager'], { encoding: 'utf8' });
        cursor = /-- cursor: (.*)/.exec(out)?.[1] ?? '';
      } catch {
        cursor = '';
      }
      return { kind: 'journal', unit, cursor };
    }
    throw new Error(`unknown log source ${s}`);
  });
}

// Decision records written after the mark, in order.
function decisionsSince(marks) {
  const lines = [];
  for (const m of marks) {
    if (m.kind === 'file') {
      let fd;
      try {
        fd = openSync(m.path, 'r');
      } catch {
        continue;
      }
      try {
        const size = statSync(m.path).size;
        const start = size < m.offset ? 0 : m.offset; // rotated meanwhile: read the new file from the top
        const buf = Buffer.alloc(size - start);
        readSync(fd, buf, 0, buf.length, start);
        lines.push(...buf.toString('utf8').split('\n'));
      } finally {
        closeSync(fd);
      }
    } else {
      const a = ['-u', m.unit, '-o', 'cat', '--no-pager'];
      if (m.cursor) a.push(`--after-cursor=${m.cursor}`);
      try {
        lines.push(...execFileSync('journalctl', a, { encoding: 'utf8' }).split('\n'));
      } catch {
        /* journal not readable */
      }
    }
  }
  const out = [];
  for (const line of lines) {
    // pm2 may prefix lines with a timestamp; the record is the JSON object on the line.
    const at = line.indexOf('{');
    if (at < 0) continue;
    try {
      const rec = JSON.parse(line.slice(at));
      if (rec && rec.msg === 'decision') out.push(rec);
    } catch {
      /* not a log record */
    }
  }
  return out;
}

async function verify(mode, sources, daemonSocket, pluginSocket, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let lastProblem = 'no attempt made';
  while (Date.now() < deadline) {
    const m = mark(sources);
    const since = () => decisionsSince(m);
    let ping;
    try {
      const started = Date.now();
      ping = await httpCall(daemonSocket, 'GET', '/_ping', undefined, mode === 'on' ? 20_000 : 10_000);
      ping.ms = Date.now() - started;
    } catch (err) {
      lastProblem = `GET /_ping on ${daemonSocket}: ${err.message}`;
      await sleep(500);
      continue;
    }
    if (mode === 'on') {
      // The decision is logged before the plugin answers, so it is written by now (give the
      // logger's buffer a moment to reach the file).
      for (let i = 0; i < 20; i++) {
        if (since().some((r) => r.path === '/_ping')) return `the daemon consulted the plugin (GET /_ping answered ${ping.status})`;
        await sleep(100);
      }
      lastProblem = `GET /_ping answered ${ping.status} but no /_ping decision appeared in the plugin's log`;
      await sleep(500);
      continue;
    }
    // off: a sentinel straight to the plugin orders the log; a ping consulted before it would be logged before it.
    const sentinel = `/docker-authz-check/${randomBytes(6).toString('hex')}`;
    let direct;
    try {
      direct = await httpCall(
        pluginSocket,
        'POST',
        '/AuthZPlugin.AuthZReq',
        JSON.stringify({ RequestMethod: 'GET', RequestUri: sentinel, User: '' }),
        5_000,
      );
    } catch {
      direct = undefined;
    }
    if (direct === undefined) {
      // Plugin down: a daemon still consulting it would fail or stall the ping for ~15 s.
      if (ping.status === 200 && ping.ms < 5_000)
        return `the daemon answers without the plugin (GET /_ping ${ping.status} in ${ping.ms} ms)`;
      lastProblem = `plugin down and GET /_ping answered ${ping.status} after ${ping.ms} ms`;
      continue;
    }
    let recs = [];
    for (let i = 0; i < 30; i++) {
      recs = since();
      if (recs.some((r) => r.path === sentinel)) break;
      await sleep(100);
    }
    const upTo = recs.findIndex((r) => r.path === sentinel);
    if (upTo < 0) {
      lastProblem = 'the sentinel request did not show up in the plugin log';
      continue;
    }
    if (!recs.slice(0, upTo).some((r) => r.path === '/_ping')) return 'the daemon no longer consults the plugin';
    lastProblem = 'the daemon still consults the plugin (its configuration reload may not have been applied yet)';
    await sleep(500);
  }
  throw new Error(lastProblem);
}

// --- env files, daemon.json ----------------------------------------------------------------------

// KEY=value lines as the launcher and dotenv read them (comments, optional quotes, `export`).
function envGet(file, key, fallback) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return fallback;
    throw err;
  }
  let value = fallback;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m || m[1] !== key) continue;
    const raw = m[2].trim();
    const quoted = /^(["'])(.*?)\1(\s+#.*)?$/.exec(raw);
    value = quoted ? quoted[2] : raw.replace(/\s+#.*$/, '');
  }
  return value === '' ? fallback : value;
}

// --- users: dockerd's TLS listener (install-authz.sh --users) -----------------------------------
//
// dockerd reports the CN of a verified TLS client certificate to the authorization plugin; the user
// gateway relays each user's socket to a TLS listener on the loopback with that user's certificate.
// The daemon side: "tlsverify" with the docker-authz CA and "hosts" = the unix socket(s) it had +
// tcp://127.0.0.1:PORT, in daemon.json. dockerd refuses a setting given both as a flag and in
// daemon.json (at start and at every configuration reload), so listeners given with -H move into
// daemon.json: under systemd, a drop-in gives docker.service the same ExecStart without -H.

const TLS_KEYS = ['tlsverify', 'tlscacert', 'tlscert', 'tlskey'];
const USERS_KEYS = ['hosts', ...TLS_KEYS];
const DEFAULT_HOST = 'unix:///var/run/docker.sock';
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function parseAddress(address) {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`AUTHZ_DAEMON_TLS_ADDRESS must be HOST:PORT, e.g. 127.0.0.1:2376, not ${address}`);
  return { host: m[1] ?? m[2], port };
}

// The words of a command line as systemd splits ExecStart= (quotes, backslash escapes), with where
// each one is in the line, so that words can be left out without re-quoting the others.
function words(line) {
  const out = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    const start = i;
    let value = '';
    while (i < line.length && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === '"' || c === "'") {
        const end = line.indexOf(c, i + 1);
        if (end < 0) throw new Error(`unbalanced quote in ${line}`);
        value += line.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\' && i + 1 < line.length) {
        value += line[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    out.push({ value, start, end: i });
  }
  return out;
}

const isTlsFlag = (w) => /^--tls(verify|cacert|cert|key)?(=|$)/.test(w);

// Splits dockerd's arguments (without the program) into its -H/--host values and the other words.
function hostArgs(args) {
  const hosts = [];
  const rest = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-H' || a === '--host') {
      if (i + 1 < args.length) hosts.push(args[++i]);
    } else if (a.startsWith('--host=')) hosts.push(a.slice('--host='.length));
    else if (/^-H./.test(a)) hosts.push(a.slice(2).replace(/^=/, ''));
    else rest.push(i);
  }
  return { hosts, rest };
}

// The effective ExecStart= lines of a service from its unit file and drop-ins, in order: an empty
// ExecStart= resets the list; a line ending in a backslash continues on the next.
function execStarts(files) {
  let list = [];
  for (const file of files) {
    let section = '';
    for (const raw of readFileSync(file, 'utf8')
      .replace(/\\\r?\n/g, ' ')
      .split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const header = /^\[(.+)\]$/.exec(line);
      if (header) {
        section = header[1];
        continue;
      }
      const m = section === 'Service' ? /^ExecStart\s*=\s*(.*)$/.exec(line) : null;
      if (m) list = m[1] === '' ? [] : [...list, m[1]];
    }
  }
  return list;
}

function parseRecord(text) {
  let rec;
  try {
    rec = JSON.parse(text);
  } catch {
    throw new Error(`the install record's USERS_DAEMON_JSON is not JSON: ${text}`);
  }
  if (!rec || typeof rec.before !== 'object' || typeof rec.after !== 'object' || !rec.before || !rec.after)
    throw new Error(`the install record's USERS_DAEMON_JSON has no "before" and "after": ${text}`);
  return rec;
}

// daemon.json with the keys --users set put back as they were before the install.
function undoUsers(config, rec, notes) {
  const out = { ...config };
  for (const key of USERS_KEYS) {
    if (!(key in rec.before)) continue;
    const before = rec.before[key];
    if (config[key] !== undefined && !same(config[key], rec.after[key]) && !same(config[key], before))
      notes.push(
        `"${key}" was changed after docker-authz set it (it is ${JSON.stringify(config[key])}); it goes back to what it was before`,
      );
    if (before === null) delete out[key];
    else out[key] = before;
  }
  return out;
}

function usersPlan(o) {
  const { host, port } = parseAddress(o.address);
  if (!LOOPBACK.test(host))
    throw new Error(
      `AUTHZ_DAEMON_TLS_ADDRESS is ${o.address}: dockerd's listener for the user gateway must be on the loopback (127.0.0.1, [::1] or localhost)`,
    );
  const tcp = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const tls = {
    tlsverify: true,
    tlscacert: join(o.pki, 'ca.pem'),
    tlscert: join(o.pki, 'server-cert.pem'),
    tlskey: join(o.pki, 'server-key.pem'),
  };
  const current = readDaemonJson(o.daemonJson) ?? {};
  const prev = o.record ? parseRecord(o.record) : undefined;
  const notes = [];
  // A second run starts again from what was there before the first.
  const orig = prev ? undoUsers(current, prev, notes) : current;

  const running = o.cmdline ? readFileSync(o.cmdline, 'utf8').split('\0').filter(Boolean).slice(1) : [];
  const runningHosts = hostArgs(running).hosts;
  const runningTls = running.filter(isTlsFlag);
  if (runningTls.length > 0)
    throw new Error(
      `dockerd runs with ${runningTls.join(' ')} on its command line; the TLS settings go into ${o.daemonJson} and dockerd refuses a setting given both ways. Remove the flags from what starts dockerd first.`,
    );

  let unitHosts = [];
  let dropin;
  if (o.units.length > 0) {
    const execs = execStarts(o.units);
    if (execs.length !== 1) throw new Error(`docker.service has ${execs.length} ExecStart= commands (${o.units.join(', ')}), expected one`);
    const exec = execs[0];
    const ws = words(exec);
    const flags = ws.slice(1).map((w) => w.value);
    const unitTls = flags.filter(isTlsFlag);
    if (unitTls.length > 0)
      throw new Error(
        `docker.service starts dockerd with ${unitTls.join(' ')}; the TLS settings go into ${o.daemonJson}: remove the flags first`,
      );
    const split = hostArgs(flags);
    unitHosts = split.hosts;
    if (runningHosts.length > 0 && !same(runningHosts, unitHosts))
      throw new Error(
        `the running dockerd has -H ${runningHosts.join(' -H ')} on its command line, but docker.service's ExecStart= says ${unitHosts.length ? `-H ${unitHosts.join(' -H ')}` : 'none'}: ` +
          'listeners given in an environment variable (DOCKER_OPTS in /etc/default/docker?) cannot be moved to daemon.json by the installer; move them there yourself first',
      );
    if (unitHosts.length > 0) {
      const kept = [ws[0], ...split.rest.map((i) => ws[i + 1])].map((w) => exec.slice(w.start, w.end)).join(' ');
      dropin = [
        "# Written by docker-authz's installer (--users); the uninstaller removes it.",
        `# dockerd's listeners are in ${o.daemonJson} ("hosts"), which dockerd refuses to combine with`,
        "# -H flags: this is docker.service's ExecStart= without them.",
        '[Service]',
        'ExecStart=',
        `ExecStart=${kept}`,
        '',
      ].join('\n');
      notes.push(`docker.service: -H ${unitHosts.join(' -H ')} moves from ExecStart= to "hosts" in ${o.daemonJson} (a drop-in)`);
    }
  } else if (runningHosts.length > 0) {
    throw new Error(
      `dockerd was started with -H ${runningHosts.join(' -H ')} on its command line. Its listeners must move to "hosts" in ${o.daemonJson} ` +
        '(dockerd refuses to start, and refuses configuration reloads, when a setting is given both ways), and the installer cannot change how ' +
        `this dockerd is started. Put "hosts": ${JSON.stringify(runningHosts)} into ${o.daemonJson}, remove the -H flags from what starts dockerd, ` +
        'restart it, then run this again.',
    );
  }

  if (orig.hosts !== undefined && !(Array.isArray(orig.hosts) && orig.hosts.every((h) => typeof h === 'string')))
    throw new Error(`${o.daemonJson}: "hosts" must be a list of addresses, found ${JSON.stringify(orig.hosts)}`);
  if (orig.hosts !== undefined && unitHosts.length > 0)
    throw new Error(`${o.daemonJson} has "hosts" and docker.service passes -H: dockerd refuses that combination; fix it first`);
  if (orig.tls === false) throw new Error(`${o.daemonJson} sets "tls": false; the user gateway needs dockerd's TLS listener`);
  for (const key of TLS_KEYS) {
    if (orig[key] !== undefined && !same(orig[key], tls[key]))
      throw new Error(
        `${o.daemonJson} already sets "${key}": ${JSON.stringify(orig[key])}. dockerd has TLS settings of its own, and it has only one set: ` +
          `the user gateway needs it to verify clients with the docker-authz CA (${tls.tlscacert}). Remove them first (and the listeners that use them).`,
      );
  }

  const listeners = [];
  for (const h of orig.hosts ?? (unitHosts.length > 0 ? unitHosts : [DEFAULT_HOST])) {
    if (h === 'fd://' || h === 'fd://*') {
      // With TLS on, dockerd serves every systemd-activated socket with TLS (listenFD), the unix
      // socket too: it must make its unix socket(s) itself.
      const paths = o.listen.map((l) => /^(\/\S+) \(Stream\)$/.exec(l.trim())?.[1]);
      if (paths.length === 0 || paths.some((p) => p === undefined))
        throw new Error(
          `dockerd takes its sockets from systemd (${h}), and docker.socket listens on ${o.listen.length ? o.listen.join(', ') : 'nothing known'}: only unix sockets can be moved into daemon.json`,
        );
      listeners.push(...paths.map((p) => `unix://${p}`));
      notes.push(
        `${h} (sockets from docker.socket) becomes ${paths.map((p) => `unix://${p}`).join(', ')}: with TLS on, dockerd would serve systemd's sockets with TLS too`,
      );
    } else if (h.startsWith('unix://')) listeners.push(h);
    else if (h !== tcp)
      throw new Error(
        `dockerd also listens on ${h}: its TLS settings would apply to that listener too (tlsverify with the docker-authz CA). Remove it from dockerd's listeners first.`,
      );
  }
  const desired = { hosts: [...new Set([...listeners, tcp])], ...tls };
  const next = { ...orig };
  for (const [k, v] of Object.entries(desired)) next[k] = v;
  const before = prev?.before ?? Object.fromEntries(USERS_KEYS.map((k) => [k, current[k] ?? null]));
  return { next, record: { address: o.address, before, after: desired }, dropin, notes, changed: !same(next, current) };
}

// What answers on HOST:PORT: 0 a TLS server with a certificate CAFILE signed (for HOST), 3 nothing,
// 4 something else. TLS 1.3, so the handshake completes on our side before the server asks for a
// client certificate we do not send.
function tlsProbeOnce(host, port, ca) {
  return new Promise((resolve) => {
    const plain = netConnect({ host, port });
    plain.setTimeout(5_000, () => plain.destroy(new Error('timed out')));
    plain.once('error', (err) =>
      resolve(err.code === 'ECONNREFUSED' ? { code: 3, why: `nothing listens on ${host}:${port}` } : { code: 4, why: err.message }),
    );
    plain.once('connect', () => {
      plain.removeAllListeners('error');
      plain.on('error', () => undefined);
      const s = tlsConnect({
        socket: plain,
        ca,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        servername: LOOPBACK.test(host) && host !== 'localhost' ? undefined : host,
      });
      const done = (r) => {
        s.destroy();
        plain.destroy();
        resolve(r);
      };
      s.setTimeout(5_000, () => done({ code: 4, why: `${host}:${port} did not complete a TLS handshake` }));
      s.once('secureConnect', () => {
        const cert = s.getPeerX509Certificate?.();
        const ok = s.authorized && cert && (host.includes(':') || /^\d/.test(host) ? cert.checkIP(host) : cert.checkHost(host));
        done(
          ok
            ? { code: 0, why: `${host}:${port} answers with TLS and a server certificate the docker-authz CA signed` }
            : {
                code: 4,
                why: `${host}:${port} answers with TLS, but not with a certificate the docker-authz CA signed for ${host} (${s.authorizationError ?? 'wrong name'})`,
              },
        );
      });
      s.once('error', (err) => done({ code: 4, why: `${host}:${port} is not the expected TLS listener (${err.message})` }));
    });
  });
}

async function tlsProbe(address, caFile, seconds) {
  const { host, port } = parseAddress(address);
  let ca;
  try {
    ca = readFileSync(caFile, 'utf8');
  } catch {
    ca = undefined;
  }
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const r =
      ca === undefined
        ? await tlsProbeOnce(host, port, []).then((x) => (x.code === 0 ? { ...x, code: 4 } : x))
        : await tlsProbeOnce(host, port, ca);
    if (r.code === 0 || Date.now() >= deadline) return r;
    await sleep(250);
  }
}

// --- policy ---------------------------------------------------------------------------------------

// The policy's top-level mode, read with the release's own YAML parser (JSON is YAML too).
function policyMode(release, file) {
  const yaml = createRequire(join(release, 'package.json'))('yaml');
  const doc = yaml.parse(readFileSync(file, 'utf8'));
  return doc && typeof doc === 'object' && doc.mode === 'audit' ? 'audit' : 'enforce';
}

function auditPolicy(input, out) {
  const text = readFileSync(input, 'utf8');
  const line = [
    '',
    'mode: audit',
    '# ^ installed with --audit: the rules and the hello gate only LOG what they would deny',
    '# ("audit":true in the decision log, counted by docker-authz status) and let it through; the',
    '# built-in checks stay enforced. To enforce: mode: enforce (or remove these lines), then',
    '# docker-authz check && docker-authz reload.',
  ].join('\n');
  let next;
  if (/^mode:.*$/m.test(text)) next = text.replace(/^mode:.*$/m, 'mode: audit');
  else if (/^version:.*$/m.test(text)) next = text.replace(/^version:.*$/m, (v) => `${v}\n${line}`);
  else throw new Error(`${input} has no top-level "version:" line to put "mode: audit" after`);
  writeFileSync(out, next);
}

// --- commands ------------------------------------------------------------------------------------

try {
  switch (cmd) {
    case 'version-ok':
      process.exit(versionAtLeast(process.versions.node, args[0]) ? 0 : 1);
      break;
    case 'package-field': {
      const [dir, field] = args;
      console.log(readJson(join(dir, 'package.json'))[field] ?? '');
      break;
    }
    case 'json-check':
      readDaemonJson(args[0]);
      break;
    case 'json-edit': {
      const [op, file, name, out] = args;
      if (!editDaemonJson(op, file, name, out)) process.exit(3);
      break;
    }
    case 'pm2-jlist': {
      const [field, app] = args;
      for (const p of pm2Apps(readFileSync(0, 'utf8'))) {
        if (app !== undefined && p.name !== app) continue;
        const value = field in p ? p[field] : p.pm2_env?.[field];
        if (value !== undefined) console.log(value);
      }
      break;
    }
    case 'copy-deps': {
      const problem = copyDeps(args[0], args[1]);
      if (problem !== undefined) fail(problem, 3);
      break;
    }
    case 'native-deps':
      for (const pkg of nativeDeps(args[0])) console.log(pkg);
      break;
    case 'native-reuse': {
      const [from, to, pkg] = args;
      const problem = nativeReuse(from, to, pkg);
      if (problem !== undefined) fail(problem, 3);
      console.log(`reused the ${pkg} build from ${from} (node ABI ${process.versions.modules})`);
      break;
    }
    case 'native-check':
      loadNative(args[0], args[1]);
      break;
    case 'wait-plugin':
      console.log(await waitHttp(args[0], '/health', Number(args[1]), 'the plugin'));
      break;
    case 'wait-http':
      console.log(await waitHttp(args[0], args[1], Number(args[2]), args[3] ?? 'the service'));
      break;
    case 'verify': {
      const [mode, daemonSocket, pluginSocket, seconds, ...sources] = args;
      console.log(await verify(mode, sources, daemonSocket, pluginSocket, Number(seconds)));
      break;
    }
    case 'env-get':
      for (const pair of args.slice(1)) {
        const at = pair.indexOf('=');
        console.log(envGet(args[0], pair.slice(0, at), pair.slice(at + 1)));
      }
      break;
    case 'json-get': {
      const value = readDaemonJson(args[0])?.[args[1]];
      if (value !== undefined) console.log(JSON.stringify(value));
      break;
    }
    case 'daemon-socket': {
      const hosts = readDaemonJson(args[0])?.hosts;
      const unix = Array.isArray(hosts) ? hosts.find((h) => typeof h === 'string' && h.startsWith('unix://')) : undefined;
      if (unix !== undefined) console.log(unix.slice('unix://'.length));
      break;
    }
    case 'users-plan': {
      const { values } = parseArgs({
        args,
        options: {
          'daemon-json': { type: 'string' },
          address: { type: 'string' },
          pki: { type: 'string' },
          out: { type: 'string' },
          record: { type: 'string' },
          cmdline: { type: 'string' },
          unit: { type: 'string', multiple: true },
          listen: { type: 'string', multiple: true },
        },
      });
      const plan = usersPlan({
        daemonJson: values['daemon-json'],
        address: values.address,
        pki: values.pki,
        record: values.record || undefined,
        cmdline: values.cmdline || undefined,
        units: values.unit ?? [],
        listen: values.listen ?? [],
      });
      writeFileSync(join(values.out, 'daemon.json'), `${JSON.stringify(plan.next, null, 2)}\n`);
      writeFileSync(join(values.out, 'record'), `${JSON.stringify(plan.record)}\n`);
      if (plan.dropin !== undefined) writeFileSync(join(values.out, 'dropin'), plan.dropin);
      writeFileSync(join(values.out, 'changed'), plan.changed ? '1\n' : '0\n');
      for (const n of plan.notes) console.log(n);
      break;
    }
    case 'users-undo': {
      const [file, record, out] = args;
      const notes = [];
      const current = readDaemonJson(file) ?? {};
      const next = undoUsers(current, parseRecord(record), notes);
      for (const n of notes) console.log(n);
      if (same(next, current)) process.exit(3);
      writeFileSync(out, `${JSON.stringify(next, null, 2)}\n`);
      break;
    }
    case 'tls-probe': {
      const r = await tlsProbe(args[0], args[1], Number(args[2]));
      console.log(r.why);
      process.exit(r.code);
      break;
    }
    case 'policy-mode':
      console.log(policyMode(args[0], args[1]));
      break;
    case 'audit-policy':
      auditPolicy(args[0], args[1]);
      break;
    default:
      fail(`install-helper: unknown command ${cmd}`, 2);
  }
} catch (err) {
  fail(err.message);
}
