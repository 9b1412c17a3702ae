import type { ReloadOutcome } from '../policy/lifecycle.js';
import { EXIT, type Command } from './command.js';
import { callPlugin, notRunning } from './plugin-client.js';

export const reloadCommand: Command = {
  name: 'reload',
  summary: 'Make the running plugin re-read its policy file (also: SIGHUP, systemctl reload docker-authz).',
  description:
    'An invalid file is rejected with file:line:col errors and the policy in force stays. With several workers\n' +
    '(pm2 instances), the others follow within a second.',
  async run(ctx) {
    const { socket } = ctx.config();
    const res = await callPlugin(socket, 'POST', '/-/reload');
    if (!res) {
      ctx.err(notRunning(socket));
      return EXIT.UNREACHABLE;
    }
    const out = res.json as Partial<ReloadOutcome>;
    if (out.ok) {
      ctx.out(`policy reloaded from ${out.source}`);
      return EXIT.OK;
    }
    ctx.err(`policy rejected; the policy in force stays:\n${(out.errors ?? [JSON.stringify(res.json)]).join('\n')}`);
    return EXIT.FAILED;
  },
};
