#!/usr/bin/env node
import 'dotenv/config';
import { request } from 'node:http';
import { loadConfig, type Config } from './config/config.js';
import { isCodedError } from './errors.js';
import { loadPolicyFile } from './policy/load.js';
import { startPlugin } from './serve.js';
import { openHelloStore } from './state/hello-store.js';

const USAGE = `usage: docker-authz <command>

  serve                      run the plugin in the foreground (what npm start runs)
  check [POLICY]             validate a policy file (default: AUTHZ_POLICY or the built-in policy)
  reload                     make the running plugin re-read its policy
  hello status               list who has said hello
  hello reset [--user NAME]  forget one identity's greeting (NAME "@anonymous" = unix-socket callers), or everyone's

Configuration comes from the environment and .env: AUTHZ_SOCKET, AUTHZ_POLICY, AUTHZ_STATE_DIR, AUTHZ_LOG_LEVEL.`;

// Talks to the running plugin over its socket; undefined when nothing is listening.
function callPlugin(config: Config, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown } | undefined> {
  return new Promise((resolve) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      { socketPath: config.socket, method, path, headers: { host: 'localhost', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
            } catch {
              resolve({ status: res.statusCode ?? 0, json: text });
            }
          });
      },
    );
    req.on('error', () => resolve(undefined));
    req.end(payload);
  });
}

async function serve(config: Config): Promise<number> {
  const plugin = await startPlugin(config);
  // pm2 (wait_ready) swaps workers only once the new one is listening.
  process.send?.('ready');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    plugin.log.info({ signal }, 'shutting down');
    void plugin.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void plugin.reload());
  // Last line of defence: log and keep serving rather than leave every docker call hanging.
  process.on('uncaughtException', (err) => plugin.log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => plugin.log.error({ err }, 'unhandled rejection'));
  return new Promise<number>(() => undefined);
}

function check(config: Config, file: string | undefined): number {
  const result = loadPolicyFile(file ?? config.policyFile);
  if (result.ok) {
    console.log(`${result.source}: OK (${result.policy.rules.length} rules, hello gate ${result.policy.hello.enabled ? 'on' : 'off'})`);
    return 0;
  }
  for (const issue of result.issues) console.error(`${issue.file}:${issue.line}:${issue.col}: ${issue.message}`);
  return 1;
}

async function reload(config: Config): Promise<number> {
  const res = await callPlugin(config, 'POST', '/-/reload');
  if (!res) {
    console.error(`docker-authz is not running on ${config.socket}`);
    return 1;
  }
  const out = res.json as { ok?: boolean; source?: string; errors?: string[] };
  if (out.ok) console.log(`policy reloaded from ${out.source}`);
  else console.error(`policy rejected, the previous policy stays in force:\n${(out.errors ?? []).join('\n')}`);
  return out.ok ? 0 : 1;
}

async function hello(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'status') {
    const res = await callPlugin(config, 'GET', '/-/hello');
    const greeted = res
      ? (res.json as { greeted: { identity: string; at: string }[] }).greeted
      : openHelloStore(config.stateDir).store.list();
    if (greeted.length === 0) console.log('nobody has said hello yet');
    for (const g of greeted) console.log(`${g.identity}\t${g.at}`);
    return 0;
  }
  if (sub === 'reset') {
    const i = rest.indexOf('--user');
    const identity = i === -1 ? undefined : rest[i + 1];
    if (i !== -1 && !identity) {
      console.error('hello reset: --user needs a name');
      return 2;
    }
    // Prefer the running plugin (it owns the state); edit the file directly when it is down.
    const res = await callPlugin(config, 'POST', '/-/hello/reset', identity === undefined ? {} : { identity });
    const forgotten = res ? (res.json as { forgotten: string[] }).forgotten : await openHelloStore(config.stateDir).store.reset(identity);
    console.log(forgotten.length ? `forgot: ${forgotten.join(', ')}` : 'nothing to reset');
    return 0;
  }
  console.error(USAGE);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const config = loadConfig(process.env);
  switch (command) {
    case 'serve':
      return serve(config);
    case 'check':
      return check(config, args[0]);
    case 'reload':
      return reload(config);
    case 'hello':
      return hello(config, args);
    case 'scan':
      return (await import('./cli/scan.js')).scanCommand(config, args);
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`docker-authz: ${isCodedError(err) ? `[${err.code}] ` : ''}${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
