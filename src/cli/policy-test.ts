import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { BUILT_IN_RULES } from '../policy/built-in.js';
import { closest, pathText } from '../policy/issue-text.js';
import { formatIssue, type PolicyIssue } from '../policy/load.js';
import { policyParser } from '../policy/parser.js';
import { ANONYMOUS } from '../request/types.js';
import { OBJECT_KINDS } from './offline-objects.js';
import { EXIT, UsageError, type Command } from './command.js';
import { stepLines } from './explain.js';
import { envelopeOf, explain, loadOfflinePolicy, verdict, type Explanation, type OfflinePolicy } from './offline.js';

// Policy test files: requests and the decisions expected for them, run offline like `explain`.

const requestSchema = z.strictObject({
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, 'must be an HTTP method such as GET or POST')
    .optional(),
  path: z.string().regex(/^\//, 'must be an API path starting with "/", such as /v1.41/containers/create'),
  body: z
    .unknown()
    .optional()
    .describe('A mapping or list is sent as JSON; text is sent as it is (to test malformed or ambiguous bodies).'),
  user: z
    .string()
    .min(1)
    .refine((u) => !u.startsWith('@') || u === ANONYMOUS, `must be a TLS user name or "${ANONYMOUS}"`)
    .default(ANONYMOUS),
  greeted: z.boolean().default(true),
});

const objectSchema = z.strictObject({
  kind: z.enum(OBJECT_KINDS),
  name: z.string().min(1).describe("The object's name, or its full ID (64 hex digits; an exec's ID)."),
  owner: z.string().min(1).nullable().describe('Who created it; null: made before the plugin (administrators only).'),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  request: requestSchema,
  objects: z.array(objectSchema).optional().describe("More objects for this case, besides the file's."),
  expect: z.strictObject({
    allow: z.boolean(),
    rule: z.string().min(1).optional().describe('The rule that decides: the deny rule, or the allow rule that matched.'),
  }),
});

export const testFileSchema = z
  .strictObject({
    policy: z.string().min(1).optional().describe('The policy these cases are for, relative to this file (--policy overrides it).'),
    objects: z.array(objectSchema).default([]).describe('Objects the cases name, and who created them (for the ownership rule).'),
    cases: z.array(caseSchema).min(1),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.cases.forEach((c, i) => {
      if (seen.has(c.name))
        ctx.addIssue({ code: 'custom', path: ['cases', i, 'name'], message: `duplicate case name ${JSON.stringify(c.name)}` });
      seen.add(c.name);
    });
  });

export type TestFile = z.infer<typeof testFileSchema>;
type TestCase = TestFile['cases'][number];

/** Names the place in a test file an issue is about: `case "privileged is refused": expect.allow`. */
function casePlace(path: readonly PropertyKey[], data: unknown): string {
  if (path[0] === 'cases' && typeof path[1] === 'number') {
    const raw = (data as { cases?: unknown[] }).cases?.[path[1]] as { name?: unknown } | undefined;
    const name = typeof raw?.name === 'string' && raw.name !== '' ? JSON.stringify(raw.name) : `#${path[1] + 1}`;
    const rest = path.slice(2);
    return `case ${name}${rest.length ? `: ${pathText(rest)}` : ''}`;
  }
  return pathText(path);
}

/** Parses and validates a test file's text; problems at file:line:col. */
export function parseTestFile(text: string, file: string): { ok: true; value: TestFile } | { ok: false; issues: readonly PolicyIssue[] } {
  const r = policyParser().parseYaml(text, file, testFileSchema, casePlace);
  return r.ok ? { ok: true, value: r.value } : { ok: false, issues: r.issues };
}

export interface CaseResult {
  readonly name: string;
  readonly line: number;
  readonly pass: boolean;
  readonly expected: TestCase['expect'];
  /** Why it failed, in words. */
  readonly failure?: string;
  readonly got: Explanation;
}

export interface FileResult {
  readonly file: string;
  readonly policy?: string;
  /** Set when the file or its policy could not be read or is not valid. */
  readonly errors?: readonly string[];
  readonly cases: readonly CaseResult[];
}

const expectedText = (e: TestCase['expect']) => `${e.allow ? 'allowed' : 'denied'}${e.rule ? ` by rule ${e.rule}` : ''}`;

type ObjectEntry = TestFile['objects'][number];

function runCase(policy: OfflinePolicy, c: TestCase, line: number, shared: readonly ObjectEntry[]): CaseResult {
  const r = c.request;
  const body = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  const method = r.method ?? (body === undefined ? 'GET' : 'POST');
  const objects = [...shared, ...(c.objects ?? [])].map((o) => ({ kind: o.kind, ref: o.name, owner: o.owner }));
  const got = explain(policy, envelopeOf({ method, path: r.path, body, user: r.user }), { greeted: r.greeted, objects });
  const d = got.decision;
  const rule = d.rule;
  let failure: string | undefined;
  if (d.allow !== c.expect.allow || (c.expect.rule !== undefined && rule !== c.expect.rule)) {
    failure = `expected ${expectedText(c.expect)}, got ${d.allow ? verdict(d) : d.message}`;
    const known = [...policy.policy.rules.map((x) => x.id), ...Object.keys(BUILT_IN_RULES)];
    if (c.expect.rule !== undefined && !known.includes(c.expect.rule)) {
      const guess = closest(c.expect.rule, known);
      failure += ` (there is no rule ${JSON.stringify(c.expect.rule)} in the policy or built in${guess ? `; did you mean ${guess}?` : ''})`;
    }
  }
  return { name: c.name, line, pass: failure === undefined, expected: c.expect, ...(failure !== undefined && { failure }), got };
}

export const testCommand: Command = {
  name: 'test',
  args: 'FILE...',
  summary: 'Run policy test cases from YAML files: requests and the decisions expected for them.',
  description:
    'Each file names its policy (policy: FILE, relative to the test file) or gets --policy, else AUTHZ_POLICY or the\n' +
    'built-in policy. Cases are decided offline, as `docker-authz explain` does; a failing case is shown with every\n' +
    'step of its decision. The file format is in docs/cli.md; policy/default.test.yaml is an example.\n' +
    'Exit status: 0 every case passed, 1 a case failed, 2 usage error, 3 a test file or policy could not be read\n' +
    'or is not valid.',
  options: {
    policy: { type: 'string', valueName: 'FILE', description: "the policy to test (instead of each file's policy:)" },
    verbose: { type: 'boolean', short: 'v', description: 'show the steps of passing cases too' },
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
  },
  positionals: { min: 1, max: Infinity },
  run(ctx) {
    const format = ctx.values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, not ${JSON.stringify(format)}`);
    const override = ctx.values.policy as string | undefined;
    let config: ReturnType<typeof ctx.config> | undefined;
    const policies = new Map<string, ReturnType<typeof loadOfflinePolicy>>();
    const policyAt = (file: string | undefined) => {
      config ??= ctx.config();
      const key = file ?? '';
      if (!policies.has(key)) policies.set(key, loadOfflinePolicy(file, config.pluginName));
      return policies.get(key)!;
    };

    const results: FileResult[] = ctx.positionals.map((file): FileResult => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        return { file, errors: [`${file}:1:1: cannot read the test file: ${(err as Error).message}`], cases: [] };
      }
      const parsed = parseTestFile(text, file);
      if (!parsed.ok) return { file, errors: parsed.issues.map(formatIssue), cases: [] };
      const { value } = parsed;
      const policyFile = override ?? (value.policy !== undefined ? resolve(dirname(file), value.policy) : ctx.config().policyFile);
      const policy = policyAt(policyFile);
      if (!policy.ok) return { file, policy: policyFile, errors: policy.issues.map(formatIssue), cases: [] };
      const cases = value.cases.map((c, i) =>
        runCase(policy.value, c, policyParser().locate(text, file, ['cases', i]).line, value.objects),
      );
      return { file, policy: policy.value.source, cases };
    });

    const all = results.flatMap((r) => r.cases);
    const passed = all.filter((c) => c.pass).length;
    const failed = all.length - passed;
    const broken = results.filter((r) => r.errors).length;
    if (format === 'json') {
      ctx.out(JSON.stringify({ files: results, passed, failed, unreadable: broken }, null, 2));
    } else {
      for (const r of results) {
        if (r.errors) {
          for (const e of r.errors) ctx.err(e);
          continue;
        }
        ctx.out(`${r.file} (policy ${r.policy})`);
        for (const c of r.cases) {
          if (c.pass) ctx.out(`  ok    ${c.name}: ${verdict(c.got.decision)}`);
          else ctx.out(`  FAIL  ${c.name} (${r.file}:${c.line}): ${c.failure}`);
          if (!c.pass || ctx.values.verbose) for (const line of stepLines(c.got.steps, '          ')) ctx.out(line);
        }
      }
      const unreadable = broken ? `, ${broken} file${broken === 1 ? '' : 's'} could not be run` : '';
      ctx.out(`${all.length} case${all.length === 1 ? '' : 's'}: ${passed} passed, ${failed} failed${unreadable}`);
    }
    return broken > 0 ? EXIT.UNREADABLE : failed > 0 ? EXIT.FAILED : EXIT.OK;
  },
};
