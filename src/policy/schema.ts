import { z } from 'zod';
import { KNOWN_OPERATIONS } from '../request/routes.js';
import { operationMatcher } from './checks/operations.js';
import { parseCidr } from './ip.js';
import { parseRegistryPattern } from './registry-host.js';

// The single source of truth for the policy format: types are inferred from it, the JSON Schema
// for editors is generated from it, and strict objects turn a mistyped key into an error.

const name = z.string().min(1);

/** Bridge options that change nothing outside the network's own containers. */
export const SAFE_NETWORK_OPTIONS = [
  'com.docker.network.driver.mtu',
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.container_iface_prefix',
] as const;
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

/** The limits `--ulimit NAME=…` can set (RLIMIT_<NAME>). */
export const ULIMITS = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'must be an address block such as "10.10.0.0/16" or "fd00:10::/48"');
const registry = z
  .string()
  .refine(
    (s) => parseRegistryPattern(s) !== undefined,
    'must be a registry name ("registry.example.com", "*.example.com", with an optional ":port"), an IP address or an address block',
  );

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
      .describe(
        "Allow the daemon to fetch URLs named in the request itself: `docker import URL` (fromSrc) and remote build contexts (`docker build URL`, the build's remote=). It does not cover URLs inside a Dockerfile (ADD http://..., RUN curl ...) or the registry of FROM: the build context is an archive the daemon never shows to plugins (see docs/routes.md).",
      ),
  }),
  z
    .strictObject({
      ...scope,
      kind: z.literal('shared-containers'),
    })
    .describe('Deny joining another container: --volumes-from and container:<id> pid/ipc/network modes.'),
  z
    .strictObject({
      ...scope,
      kind: z.literal('networks'),
      allowedDrivers: z
        .array(name)
        .default(['bridge'])
        .describe('Network drivers that may be used; macvlan, ipvlan and third-party drivers reach the host or load plugins.'),
      allowedOptions: z
        .array(name)
        .default([...SAFE_NETWORK_OPTIONS])
        .describe('Driver options (--opt, and --driver-opt on connect) that may be set; names are exact.'),
      allowedPools: z
        .array(cidr)
        .default([])
        .describe(
          'Address blocks callers may choose subnets, ranges, gateways and container addresses from; empty: the daemon chooses them.',
        ),
      allowedIpamDrivers: z.array(name).default(['default']).describe('IPAM drivers that may be used (--ipam-driver).'),
      allowConfigFrom: z
        .boolean()
        .default(false)
        .describe('Allow --config-from, which takes options and addresses from a config-only network the plugin cannot see.'),
    })
    .describe('Judge network create and connect: drivers, driver options, and the addresses callers choose.'),
  z
    .strictObject({
      ...scope,
      kind: z.literal('registries'),
      allowed: z
        .array(registry)
        .default([])
        .describe(
          'If not empty, the only registries pulls, pushes, searches, plugin installs and logins may use. Listing a registry on this host allows it.',
        ),
      denied: z.array(registry).default([]).describe('Registries that are always refused: names, IP addresses, address blocks.'),
      allowUnseenLogins: z
        .boolean()
        .default(false)
        .describe('Allow `docker login` when the daemon does not show the plugin the login body (newer daemons withhold it).'),
    })
    .describe('Refuse registries on this host (loopback in every spelling) and registries outside the lists.'),
  z
    .strictObject({
      ...scope,
      kind: z.literal('host-resources'),
      minOomScoreAdj: z
        .number()
        .int()
        .min(-1000)
        .max(1000)
        .default(0)
        .describe("Lowest --oom-score-adj allowed; below 0 the host's own processes are killed first."),
      allowOomKillDisable: z.boolean().default(false).describe('Allow --oom-kill-disable.'),
      maxPidsLimit: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('Highest --pids-limit allowed (and no removing the limit on update); unset: no maximum.'),
      maxUlimits: z
        .partialRecord(z.enum(ULIMITS), z.number().int().min(0))
        .default({ rtprio: 0, nice: 0 })
        .describe('Highest --ulimit values (soft and hard; -1 is unlimited) per limit; limits not listed are not capped.'),
      allowRealtime: z.boolean().default(false).describe('Allow --cpu-rt-runtime and --cpu-rt-period.'),
      allowBlkioDevices: z
        .boolean()
        .default(false)
        .describe('Allow --device-read-bps and the other per-device block I/O settings, whose paths the daemon looks up on the host.'),
    })
    .describe('Refuse settings that take host resources from everyone else.'),
  z
    .strictObject({
      ...scope,
      kind: z.literal('ownership'),
      sharedGroups: z
        .array(name)
        .default([])
        .describe("Groups whose members may manage each other's containers, volumes, networks and execs."),
    })
    .describe(
      "Users manage only what they created: no exec, logs, inspect, cp, stop, rm... on another identity's containers, no mounting " +
        'their volumes, joining their namespaces or networks. Admins are the identities the rule does not apply to ' +
        '(exceptUsers, exceptGroups); objects whose creator is unknown are theirs alone.',
    ),
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
      if (rule.kind === 'ownership') {
        rule.sharedGroups.forEach((g, j) => {
          if (!(g in policy.groups))
            ctx.addIssue({ code: 'custom', path: ['rules', i, 'sharedGroups', j], message: `unknown group "${g}"` });
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
