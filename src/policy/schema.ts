import { z } from 'zod';
import { KNOWN_OPERATIONS } from '../request/routes.js';
import { operationMatcher } from './checks/operations.js';

// The single source of truth for the policy format: types are inferred from it, the JSON Schema
// for editors is generated from it, and strict objects turn a mistyped key into an error.

const name = z.string().min(1);
const ruleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'rule ids are letters, digits, ".", "_" and "-"')
  .describe('Stable id, quoted in every denial and log line.');
const absolutePath = z.string().regex(/^\//, 'must be an absolute path');

const scope = {
  id: ruleId,
  description: z.string().optional(),
  users: z.array(name).optional().describe('Apply only to these identities (TLS client-cert CNs; "@anonymous" = unix-socket callers).'),
  groups: z.array(name).optional().describe('Apply only to members of these groups.'),
  exceptUsers: z.array(name).optional().describe('Never apply to these identities.'),
  exceptGroups: z.array(name).optional().describe('Never apply to members of these groups.'),
  mode: z
    .enum(['enforce', 'audit'])
    .default('enforce')
    .describe('audit: what this rule would deny is logged (and counted) as "audit" and allowed; evaluation goes on.'),
};

export const NAMESPACES = ['pid', 'ipc', 'network', 'uts', 'userns', 'cgroup'] as const;

export const ruleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...scope,
    kind: z.literal('operations'),
    effect: z.enum(['allow', 'deny']).default('deny'),
    operations: z.array(name).min(1).describe('Operation names or globs, e.g. "container.create", "swarm.*", "*".'),
  }),
  z.strictObject({ ...scope, kind: z.literal('privileged') }),
  z.strictObject({
    ...scope,
    kind: z.literal('host-mounts'),
    allowedPaths: z.array(absolutePath).default([]).describe('Host directories that may be bind-mounted (and everything below them).'),
  }),
  z.strictObject({
    ...scope,
    kind: z.literal('capabilities'),
    allowed: z.array(name).default([]).describe("Capabilities that may be added beyond Docker's default set."),
  }),
  z.strictObject({ ...scope, kind: z.literal('devices') }),
  z.strictObject({
    ...scope,
    kind: z.literal('host-namespaces'),
    namespaces: z.array(z.enum(NAMESPACES)).default([...NAMESPACES]),
  }),
  z.strictObject({ ...scope, kind: z.literal('security-options') }),
  z.strictObject({
    ...scope,
    kind: z.literal('host-settings'),
    allowedRuntimes: z.array(name).default(['runc']).describe('OCI runtimes containers may ask for (--runtime).'),
    allowedLogDrivers: z
      .array(name)
      .default(['json-file', 'local', 'journald', 'none'])
      .describe('Log drivers that keep logs on this host; others (syslog, gelf, fluentd, ...) ship them to addresses the caller chooses.'),
    allowedSysctls: z.array(name).default([]).describe('Sysctls containers may set; a trailing "*" matches a prefix ("net.ipv4.*").'),
    allowCgroupParent: z
      .boolean()
      .default(false)
      .describe("Allow --cgroup-parent (containers and builds), which places containers outside Docker's cgroup."),
    allowRemoteFetch: z
      .boolean()
      .default(false)
      .describe("Allow the daemon to fetch URLs on a caller's behalf: image import from a URL, builds from a remote context."),
  }),
  z
    .strictObject({
      ...scope,
      kind: z.literal('shared-containers'),
    })
    .describe('Deny joining another container: --volumes-from and container:<id> pid/ipc/network modes.'),
]);

export const policySchema = z
  .strictObject({
    version: z.literal(1),
    mode: z
      .enum(['enforce', 'audit'])
      .default('enforce')
      .describe('audit: the whole policy (rules and hello gate) only logs what it would deny. Built-in checks stay enforced.'),
    hello: z
      .strictObject({
        enabled: z.boolean().default(true),
        image: name.default('hello-world').describe('The greeting image; "hello-world" also matches docker.io/library/hello-world:latest.'),
        scope: z
          .enum(['identity', 'global'])
          .default('identity')
          .describe('identity: each caller says hello; global: one hello opens the gate for all.'),
        mode: z
          .enum(['enforce', 'audit'])
          .default('enforce')
          .describe('audit: callers who have not said hello are logged as "audit" and let through.'),
      })
      .prefault({}),
    api: z
      .strictObject({
        minVersion: z
          .string()
          .regex(/^\d+\.\d+$/, 'an API version such as "1.24"')
          .default('1.24')
          .describe(
            'Requests for older API versions are denied: they carry semantics (HostConfig on start, top-level HostConfig fields) that newer clients never use.',
          ),
      })
      .prefault({}),
    groups: z.record(name, z.array(name)).default({}),
    rules: z.array(ruleSchema).default([]),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${rule.id}"` });
      seen.add(rule.id);
      if (rule.kind === 'operations' && rule.effect === 'allow' && rule.mode === 'audit') {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'mode'],
          message: 'mode: audit applies to deny rules; an allow rule cannot be audited',
        });
      }
      // A glob that matches no operation is a typo that would silently never apply.
      if (rule.kind === 'operations') {
        rule.operations.forEach((glob, j) => {
          const matches = operationMatcher([glob]);
          if (![...KNOWN_OPERATIONS].some(matches)) {
            ctx.addIssue({ code: 'custom', path: ['rules', i, 'operations', j], message: `"${glob}" matches no Docker operation` });
          }
        });
      }
      for (const key of ['groups', 'exceptGroups'] as const) {
        rule[key]?.forEach((g, j) => {
          if (!(g in policy.groups)) ctx.addIssue({ code: 'custom', path: ['rules', i, key, j], message: `unknown group "${g}"` });
        });
      }
    });
  });

export type Policy = z.infer<typeof policySchema>;
export type Rule = z.infer<typeof ruleSchema>;
export type RuleKind = Rule['kind'];
export type RuleOf<K extends RuleKind> = Extract<Rule, { kind: K }>;
