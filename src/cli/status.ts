import type { PolicyStatus } from '../policy/lifecycle.js';
import type { StateHealth } from '../state/store.js';
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
}

const POLICY_STATE: Record<PolicyStatus['state'], string> = {
  file: 'the policy file',
  'last-known-good': 'the LAST GOOD policy (the file on disk is rejected)',
  'deny-all': 'NOTHING VALID: every request is DENIED',
};

function render(h: Health): string[] {
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
  lines.push(`log:     ${h.log.dropped} line(s) dropped because the log reader fell behind`);
  return lines;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show what the running plugin serves: the policy in force, the state database, dropped log lines.',
  description: 'Exits 0 when all is well, 1 when the plugin serves but something needs attention, 3 when it is not running.',
  options: {
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
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
    if (format === 'json') ctx.out(JSON.stringify(h, null, 2));
    else for (const line of render(h)) ctx.out(line);
    return h.status === 'ok' ? EXIT.OK : EXIT.FAILED;
  },
};
