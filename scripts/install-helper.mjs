#!/usr/bin/env node
// Helper for install-authz.sh and uninstall-authz.sh: the parts that are JSON or HTTP, which shell
// does badly. Node's standard library only (it runs before any npm install). Not a public interface.
//
//   node install-helper.mjs version-ok MIN                   exit 0 when this node is >= MIN
//   node install-helper.mjs json-check FILE                  exit 0 when FILE is missing or a valid daemon.json
//   node install-helper.mjs json-edit add|remove FILE NAME OUT
//                                                            write the edited daemon.json to OUT;
//                                                            exit 0 changed, 3 unchanged, 1 error
//   node install-helper.mjs json-get FILE KEY               print a top-level key as JSON
//   node install-helper.mjs wait-plugin SOCKET SECONDS       wait until GET /health answers 200
//   node install-helper.mjs http SOCKET METHOD PATH [BODY]   one request; prints the status line
//   node install-helper.mjs verify on|off DAEMON_SOCKET PLUGIN_SOCKET SECONDS LOG_SOURCE...
//       on:  the daemon consults the plugin (a /_ping through the daemon shows up in the decision log)
//       off: the daemon no longer consults it (a ping does not show up before a sentinel sent
//            straight to the plugin; or, when the plugin is down, the ping answers promptly)
//
// Log SOURCEs: file:PATH (a log file; decisions appended from now on) or journal:UNIT.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';

const [cmd, ...args] = process.argv.slice(2);

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

// --- decision-log access -------------------------------------------------------------------------

function mark(sources) {
  return sources
    .map((s) => {
      if (s.startsWith('file:')) {
        const path = s.slice(5);
        let size;
        try {
          size = statSync(path).size;
        } catch {
          size = 0;
        }
        return `file:${size}:${path}`;
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
        return `journal:${unit}:${cursor}`;
      }
      throw new Error(`unknown log source ${s}`);
    })
    .join('\n');
}

// Decision records written after the mark, in order.
function decisionsSince(markText) {
  const lines = [];
  for (const m of markText.split('\n').filter(Boolean)) {
    if (m.startsWith('file:')) {
      const rest = m.slice(5);
      const colon = rest.indexOf(':');
      const offset = Number(rest.slice(0, colon));
      const path = rest.slice(colon + 1);
      let fd;
      try {
        fd = openSync(path, 'r');
      } catch {
        continue;
      }
      try {
        const size = statSync(path).size;
        const start = size < offset ? 0 : offset; // rotated meanwhile: read the new file from the top
        const buf = Buffer.alloc(size - start);
        readSync(fd, buf, 0, buf.length, start);
        lines.push(...buf.toString('utf8').split('\n'));
      } finally {
        closeSync(fd);
      }
    } else if (m.startsWith('journal:')) {
      const rest = m.slice(8);
      const colon = rest.indexOf(':');
      const unit = rest.slice(0, colon);
      const cursor = rest.slice(colon + 1);
      const a = ['-u', unit, '-o', 'cat', '--no-pager'];
      if (cursor) a.push(`--after-cursor=${cursor}`);
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
    case 'json-check':
      readDaemonJson(args[0]);
      break;
    case 'json-get': {
      const v = readDaemonJson(args[0]);
      console.log(JSON.stringify(v?.[args[1]] ?? null));
      break;
    }
    case 'json-edit': {
      const [op, file, name, out] = args;
      const value = readDaemonJson(file) ?? {};
      const list = value['authorization-plugins'] ?? [];
      let next;
      if (op === 'add') {
        if (list.includes(name)) process.exit(3);
        next = { ...value, 'authorization-plugins': [...list, name] };
      } else if (op === 'remove') {
        if (!list.includes(name)) process.exit(3);
        const rest = list.filter((p) => p !== name);
        next = { ...value };
        if (rest.length > 0) next['authorization-plugins'] = rest;
        else delete next['authorization-plugins'];
      } else {
        fail(`json-edit: unknown operation ${op}`, 2);
      }
      writeFileSync(out, `${JSON.stringify(next, null, 2)}\n`);
      break;
    }
    case 'wait-plugin': {
      const [socket, seconds] = args;
      const deadline = Date.now() + Number(seconds) * 1000;
      let problem = '';
      for (;;) {
        try {
          const res = await httpCall(socket, 'GET', '/health', undefined, 2_000);
          if (res.status === 200) {
            console.log(res.body.trim());
            break;
          }
          problem = `GET /health answered ${res.status}`;
        } catch (err) {
          problem = err.message;
        }
        if (Date.now() > deadline) fail(`the plugin did not answer on ${socket} within ${seconds} s: ${problem}`);
        await sleep(250);
      }
      break;
    }
    case 'http': {
      const [socket, method, path, body] = args;
      const res = await httpCall(socket, method, path, body, 10_000);
      console.log(`${res.status} ${res.body.trim()}`);
      break;
    }
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
