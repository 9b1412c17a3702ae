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

async function waitPlugin(socket, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    let problem;
    try {
      const res = await httpCall(socket, 'GET', '/health', undefined, 2_000);
      if (res.status === 200) return res.body.trim();
      problem = `GET /health answered ${res.status}`;
    } catch (err) {
      problem = err.message;
    }
    if (Date.now() > deadline) throw new Error(`the plugin did not answer on ${socket} within ${seconds} s: ${problem}`);
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
      console.log(await waitPlugin(args[0], Number(args[1])));
      break;
    case 'verify': {
      const [mode, daemonSocket, pluginSocket, seconds, ...sources] = args;
      console.log(await verify(mode, sources, daemonSocket, pluginSocket, Number(seconds)));
      break;
    }
    default:
      fail(`install-helper: unknown command ${cmd}`, 2);
  }
} catch (err) {
  fail(err.message);
}
