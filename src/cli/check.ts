import { formatIssue, loadPolicyFile, type LoadResult, type PolicyIssue } from '../policy/load.js';
import { policyParser } from '../policy/parser.js';
import { findShadowedRules } from '../policy/shadowing.js';
import { EXIT, UsageError, type Command } from './command.js';

/** A rule that can never match, at the rule's file:line:col. */
type Warning = PolicyIssue & { readonly rule: string };

function warningsOf(r: Extract<LoadResult, { ok: true }>): Warning[] {
  return findShadowedRules(r.policy).map((w) => ({
    ...policyParser().locate(r.text, r.source, ['rules', w.rule]),
    rule: r.policy.rules[w.rule]!.id,
    message: w.message,
  }));
}

export const checkCommand: Command = {
  name: 'check',
  args: '[POLICY...]',
  summary: 'Validate policy files (default: AUTHZ_POLICY, or the built-in policy), like `nginx -t`.',
  description:
    'Prints file:line:col for every problem and exits 1 if any file is invalid. Also warns (exit status unchanged)\n' +
    'about rules that can never match: rules that apply to nobody, and rules an earlier rule always decides for\n' +
    '(docs/cli.md#docker-authz-check says exactly which).',
  options: {
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
  },
  positionals: { max: Infinity },
  run(ctx) {
    const format = ctx.values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not ${JSON.stringify(format)}`);
    const files = ctx.positionals.length > 0 ? ctx.positionals : [ctx.config().policyFile];
    const results = files.map((file) => {
      const r = loadPolicyFile(file);
      return { r, warnings: r.ok ? warningsOf(r) : [] };
    });
    if (format === 'json') {
      ctx.out(
        JSON.stringify(
          results.map(({ r, warnings }) =>
            r.ok
              ? { file: r.source, ok: true, rules: r.policy.rules.length, hello: r.policy.hello.enabled, warnings }
              : { file: r.issues[0]?.file, ok: false, issues: r.issues },
          ),
          null,
          2,
        ),
      );
    } else {
      for (const { r, warnings } of results) {
        if (!r.ok) {
          for (const i of r.issues) ctx.err(formatIssue(i));
          continue;
        }
        for (const w of warnings) ctx.err(`${w.file}:${w.line}:${w.col}: warning: ${w.message}`);
        const counted = warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '';
        ctx.out(`${r.source}: OK (${r.policy.rules.length} rules, hello gate ${r.policy.hello.enabled ? 'on' : 'off'}${counted})`);
      }
    }
    return results.every(({ r }) => r.ok) ? EXIT.OK : EXIT.FAILED;
  },
};
