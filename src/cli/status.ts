import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { PolicyStatus } from '../policy/lifecycle.js';
import { PROBE_HEADER } from '../protocol/authz.js';
import { probeSeen } from '../state/probe.js';
import { StateStore, type StateHealth } from '../state/store.js';
import { EXIT, UsageError, type Command } from './command.js';
import { callPlugin, notRunning } from './plugin-client.js';

interface Health {
  status: 'ok' | 'degraded';
  version: string;
  plugin: string;
  pid: number;
  policy: PolicyStatus;
  state: StateHealth;
  log: { dropped: number };
  objects?: { synced: boolean; why?: string };
  decisions: { allow: number; deny: number; audit: number };
  metrics?: string;
}

type Consulted = { readonly consulted: boolean; readonly detail: string };

/** Sends a ping with a nonce through the daemon and looks for the nonce in the plugin's state. */
async function probeDaemon(dockerSocket: string, stateDir: string): Promise<Consulted> {
  const nonce = randomBytes(16).toString('hex');
  const answered = await new Promise<string | undefined>((resolve) => {
    const req = request({ socketPath: dockerSocket, path: '/_ping', headers: { Host: 'docker', [PROBE_HEADER]: nonce } }, (res) => {
      res.resume().on('end', () => resolve(undefined));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
  if (answered !== undefined) return { consulted: false, detail: `the daemon at unix://${dockerSocket} did not answer (${answered})` };
  const state = new StateStore(stateDir);
  try {
    return probeSeen(state, nonce)
      ? { consulted: true, detail: `unix://${dockerSocket} consults this plugin (a ping sent through it reached the plugin)` }
      : {
          consulted: false,
          detail:
            `unix://${dockerSocket} does NOT consult this plugin: a ping sent through it never reached the plugin. ` +
            '`docker info` does not list legacy authorization plugins; check "authorization-plugins" in daemon.json and ' +
            'the daemon log for "Reloaded configuration" (an earlier plugin in the chain that refuses the ping looks the same)',
        };
  } finally {
    state.close();
  }
}

const POLICY_STATE: Record<PolicyStatus['state'], string> = {
  file: 'the policy file',
  'last-known-good': 'the LAST GOOD policy (the file on disk is rejected)',
  'deny-all': 'NOTHING VALID: every request is DENIED',
};

function render(h: Health, daemon: Consulted | undefined): string[] {
  const lines = [
    `docker-authz ${h.version}, plugin "${h.plugin}" (pid ${h.pid}): ${h.status}`,
    `policy:  serving ${POLICY_STATE[h.policy.state]}: ${h.policy.source} (${h.policy.rules} rules, since ${h.policy.since})`,
  ];
  if (h.policy.sha256) lines.push(`         sha256 ${h.policy.sha256}`);
  if (h.policy.rejected) {
    lines.push(`         the file was rejected at ${h.policy.rejected.at}:`);
    for (const e of h.policy.rejected.errors) lines.push(`           ${e}`);
    lines.push('         fix it (docker-authz check), then run docker-authz reload');
  }
  lines.push(
    h.state.ok ? `state:   ${h.state.file}` : `state:   UNAVAILABLE (${h.state.error}): nobody counts as greeted until it is fixed`,
  );
  if (h.state.errors > 0) lines.push(`         ${h.state.errors} failed operation(s), last: ${h.state.lastError}`);
  if (h.objects) {
    lines.push(
      h.objects.synced
        ? "objects: in step with the daemon's (owners: docker-authz owners)"
        : `objects: NOT in step with the daemon's: ${h.objects.why ?? '?'}; calls naming an object are refused for non-administrators`,
    );
  }
  lines.push(`log:     ${h.log.dropped} line(s) dropped because the log reader fell behind`);
  lines.push(`counts:  ${h.decisions.allow} allowed, ${h.decisions.deny} denied, ${h.decisions.audit} audited (all workers)`);
  if (h.metrics) lines.push(`metrics: ${h.metrics}`);
  if (daemon) lines.push(`daemon:  ${daemon.detail}`);
  return lines;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show what the running plugin serves: the policy in force, the state database, dropped log lines.',
  description:
    'Also checks that the daemon (AUTHZ_DOCKER_HOST) really consults the plugin: `docker info` does not list legacy\n' +
    "authorization plugins, so a ping carrying a nonce is sent through the daemon and looked for in the plugin's state.\n" +
    'Exits 0 when all is well, 1 when the plugin serves but something needs attention, 3 when it is not running.',
  options: {
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
    'no-probe': { type: 'boolean', description: 'do not check whether the daemon (AUTHZ_DOCKER_HOST) consults the plugin' },
  },
  async run(ctx) {
    const format = ctx.values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not ${JSON.stringify(format)}`);
    const { socket } = ctx.config();
    const res = await callPlugin(socket, 'GET', '/health');
    if (!res || res.status !== 200) {
      ctx.err(res ? `docker-authz on ${socket} answered ${res.status}: ${JSON.stringify(res.json)}` : notRunning(socket));
      return EXIT.UNREACHABLE;
    }
    const h = res.json as Health;
    const config = ctx.config();
    const daemon = ctx.values['no-probe'] ? undefined : await probeDaemon(config.dockerSocket, config.stateDir);
    if (format === 'json') ctx.out(JSON.stringify(daemon ? { ...h, daemon } : h, null, 2));
    else for (const line of render(h, daemon)) ctx.out(line);
    return h.status === 'ok' && daemon?.consulted !== false ? EXIT.OK : EXIT.FAILED;
  },
};
