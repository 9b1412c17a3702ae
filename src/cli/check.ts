import { loadPolicyFile } from '../policy/load.js';
import { EXIT, UsageError, type Command } from './command.js';

export const checkCommand: Command = {
  name: 'check',
  args: '[POLICY...]',
  summary: 'Validate policy files (default: AUTHZ_POLICY, or the built-in policy), like `nginx -t`.',
  description: 'Prints file:line:col for every problem and exits 1 if any file is invalid.',
  options: {
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
  },
  positionals: { max: Infinity },
  run(ctx) {
    const format = ctx.values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not ${JSON.stringify(format)}`);
    const files = ctx.positionals.length > 0 ? ctx.positionals : [ctx.config().policyFile];
    const results = files.map((file) => loadPolicyFile(file));
    if (format === 'json') {
      ctx.out(
        JSON.stringify(
          results.map((r) =>
            r.ok
              ? { file: r.source, ok: true, rules: r.policy.rules.length, hello: r.policy.hello.enabled }
              : { file: r.issues[0]?.file, ok: false, issues: r.issues },
          ),
          null,
          2,
        ),
      );
    } else {
      for (const r of results) {
        if (r.ok) ctx.out(`${r.source}: OK (${r.policy.rules.length} rules, hello gate ${r.policy.hello.enabled ? 'on' : 'off'})`);
        else for (const i of r.issues) ctx.err(`${i.file}:${i.line}:${i.col}: ${i.message}`);
      }
    }
    return results.every((r) => r.ok) ? EXIT.OK : EXIT.FAILED;
  },
};
