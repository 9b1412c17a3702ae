import { readFileSync } from 'node:fs';
import { formatIssue } from '../policy/load.js';
import { ANONYMOUS } from '../request/types.js';
import { EXIT, UsageError, type Command, type CommandContext } from './command.js';
import { parseObjectOption } from './offline-objects.js';
import { envelopeOf, explain, loadOfflinePolicy, verdict, type Explanation, type Step } from './offline.js';

/** Reads FILE, or standard input for "-"; undefined (after saying why) when it cannot be read. */
export function readInput(ctx: CommandContext, what: string, file: string): string | undefined {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    ctx.err(`docker-authz: cannot read ${what} ${file === '-' ? '(standard input)' : file}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Checks a --user value: a TLS user name, or "@anonymous" (names starting with "@" are reserved). */
export function userOption(value: string): string {
  if (value === '' || (value.startsWith('@') && value !== ANONYMOUS)) {
    throw new UsageError(`--user ${JSON.stringify(value)}: give a TLS user name (the certificate's CN) or ${ANONYMOUS}`);
  }
  return value;
}

const LABEL: Readonly<Record<Step['outcome'], string>> = {
  pass: 'pass',
  skip: 'skip',
  'no-match': 'no match',
  match: 'MATCH',
  audit: 'AUDIT',
  'not-reached': '-',
};

/** The steps as aligned lines: outcome, id, why. */
export function stepLines(steps: readonly Step[], indent = '  '): string[] {
  const width = Math.max(0, ...steps.map((s) => s.id.length));
  return steps.map((s) => `${indent}${LABEL[s.outcome].padEnd(9)} ${s.id.padEnd(width)}  ${s.detail}`);
}

function render(e: Explanation, source: string, pluginName: string): string[] {
  const lines = [
    `request:   ${e.method} ${e.path}`,
    `operation: ${e.op ?? '(none: not a Docker Engine API operation)'}${e.apiVersion ? ` (API ${e.apiVersion})` : ''}`,
    `identity:  ${e.identity}${e.groups.length ? ` (groups: ${e.groups.join(', ')})` : ' (in no group)'}, ` +
      `${e.greeted ? 'has said hello (assumed; --not-greeted to change)' : 'has not said hello (--not-greeted)'}`,
    `policy:    ${source}`,
    '',
    `decision:  ${e.decision.allow ? 'ALLOWED' : 'DENIED'}: ${verdict(e.decision)}`,
  ];
  if (!e.decision.allow) {
    lines.push(`docker shows: Error response from daemon: authorization denied by plugin ${pluginName}: ${e.decision.message}`);
  } else if (e.decision.audit) {
    lines.push(`audit:     logged as "audit": ${e.decision.audit.message}`);
  }
  lines.push('', 'steps (the first match decides; a request no rule matches is allowed):', ...stepLines(e.steps));
  return lines;
}

export const explainCommand: Command = {
  name: 'explain',
  args: '(--path PATH [--method M] [--body JSON | --body-file FILE] | --authzreq FILE)',
  summary: 'Decide one request offline against a policy, and say why, rule by rule.',
  description:
    'Nothing is sent to the running plugin or the daemon, and the state database is not read: whether the caller\n' +
    'has said hello is given (--greeted, the default, or --not-greeted), and so is who created the objects the\n' +
    "request names (--object, for the ownership rule). Groups come from the policy's groups: section, as for the\n" +
    'plugin. The request is judged exactly as the plugin judges the AuthZReq the daemon would\n' +
    'send: the path as the router reads it, the body as Go decodes it.\n' +
    'Exit status: 0 allowed, 1 denied, 2 usage error, 3 the policy or an input file could not be read.',
  options: {
    policy: { type: 'string', valueName: 'FILE', description: 'the policy (default: AUTHZ_POLICY, else the built-in policy)' },
    method: { type: 'string', short: 'X', valueName: 'M', description: 'HTTP method (default GET, or POST with a body)' },
    path: {
      type: 'string',
      valueName: 'PATH',
      description: 'API path with its query, version prefix optional: /v1.41/containers/create?name=x',
    },
    body: { type: 'string', valueName: 'JSON', description: 'the request body, JSON as the client sends it' },
    'body-file': { type: 'string', valueName: 'FILE', description: 'read the body from FILE ("-": standard input)' },
    user: { type: 'string', short: 'u', valueName: 'NAME', description: 'the caller: a TLS user name (default @anonymous)' },
    greeted: { type: 'boolean', description: 'the caller has said hello (the default)' },
    'not-greeted': { type: 'boolean', description: 'the caller has not said hello: see the hello gate decide' },
    object: {
      type: 'string',
      multiple: true,
      valueName: 'KIND:REF=OWNER',
      description: 'an object and who created it, for the ownership rule (repeatable; OWNER "-": made before the plugin)',
    },
    authzreq: {
      type: 'string',
      valueName: 'FILE',
      description: 'a recorded AuthZReq (JSON, base64 RequestBody) as the daemon sends it ("-": standard input)',
    },
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
  },
  run(ctx) {
    const v = ctx.values as Record<string, string | boolean | undefined>;
    const format = v.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not ${JSON.stringify(format)}`);
    if (v.greeted && v['not-greeted']) throw new UsageError('give --greeted or --not-greeted, not both');
    const greeted = v['not-greeted'] !== true;
    const user = typeof v.user === 'string' ? userOption(v.user) : undefined;
    const recorded = v.authzreq as string | undefined;
    if (recorded !== undefined) {
      const extra = ['method', 'path', 'body', 'body-file'].find((k) => v[k] !== undefined);
      if (extra) throw new UsageError(`--authzreq is the whole request: it cannot be combined with --${extra}`);
    } else {
      if (v.path === undefined) throw new UsageError('give --path PATH (with --method, --body) or --authzreq FILE');
      if (!(v.path as string).startsWith('/')) throw new UsageError(`--path must start with "/": ${JSON.stringify(v.path)}`);
      if (v.body !== undefined && v['body-file'] !== undefined) throw new UsageError('give --body or --body-file, not both');
      if (v.method !== undefined && !/^[A-Za-z]+$/.test(v.method as string)) {
        throw new UsageError(`--method ${JSON.stringify(v.method)} is not an HTTP method`);
      }
    }

    const config = ctx.config();
    const loaded = loadOfflinePolicy((v.policy as string | undefined) ?? config.policyFile, config.pluginName);
    if (!loaded.ok) {
      for (const issue of loaded.issues) ctx.err(formatIssue(issue));
      return EXIT.UNREADABLE;
    }

    let input: string | ReturnType<typeof envelopeOf>;
    if (recorded !== undefined) {
      const text = readInput(ctx, 'the AuthZReq', recorded);
      if (text === undefined) return EXIT.UNREADABLE;
      let env: unknown;
      try {
        env = JSON.parse(text);
      } catch (err) {
        ctx.err(`docker-authz: ${recorded}: not JSON: ${(err as Error).message}`);
        return EXIT.UNREADABLE;
      }
      if (typeof env !== 'object' || env === null || Array.isArray(env)) {
        ctx.err(`docker-authz: ${recorded}: not an AuthZReq (a JSON object with RequestMethod, RequestUri, ...)`);
        return EXIT.UNREADABLE;
      }
      // --user replaces the recorded caller; "@anonymous" is the daemon's empty User.
      input = (user === undefined ? env : { ...env, User: user === ANONYMOUS ? '' : user }) as ReturnType<typeof envelopeOf>;
    } else {
      let body = v.body as string | undefined;
      if (v['body-file'] !== undefined) {
        body = readInput(ctx, 'the body', v['body-file'] as string);
        if (body === undefined) return EXIT.UNREADABLE;
      }
      const method = (v.method as string | undefined) ?? (body === undefined ? 'GET' : 'POST');
      input = envelopeOf({ method, path: v.path as string, body, user: user ?? ANONYMOUS });
    }

    const objects = ((v.object as unknown as string[] | undefined) ?? []).map((o) => {
      const spec = parseObjectOption(o);
      if (typeof spec === 'string') throw new UsageError(spec);
      return spec;
    });
    const e = explain(loaded.value, input, { greeted, objects });
    if (format === 'json') {
      ctx.out(
        JSON.stringify(
          {
            policy: loaded.value.source,
            ...e,
            ...(!e.decision.allow && {
              dockerMessage: `Error response from daemon: authorization denied by plugin ${config.pluginName}: ${e.decision.message}`,
            }),
          },
          null,
          2,
        ),
      );
    } else {
      for (const line of render(e, loaded.value.source, config.pluginName)) ctx.out(line);
    }
    return e.decision.allow ? EXIT.OK : EXIT.FAILED;
  },
};
