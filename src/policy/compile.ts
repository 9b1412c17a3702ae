import type { DockerRequest } from '../request/types.js';
import { olderThan } from '../request/uri.js';
import { capabilities } from './checks/capabilities.js';
import type { Check, CheckFactory, CompileContext } from './checks/check.js';
import { devices } from './checks/devices.js';
import { hostMounts } from './checks/host-mounts.js';
import { hostNamespaces } from './checks/host-namespaces.js';
import { operations } from './checks/operations.js';
import { privileged } from './checks/privileged.js';
import { securityOptions } from './checks/security-options.js';
import { hostResources } from './checks/host-resources.js';
import { hostSettings } from './checks/host-settings.js';
import { networks } from './checks/networks.js';
import { registries } from './checks/registries.js';
import { ownership } from './checks/ownership.js';
import { sharedContainers } from './checks/shared-containers.js';
import { helloMessage } from './gate.js';
import { canonicalImage } from './image-ref.js';
import { selfProtection } from './self-protection.js';
import { policyParser } from './parser.js';
import type { Policy, Rule, RuleKind } from './schema.js';

// One factory per rule kind; a new kind in the schema fails to compile until it has a checker.
const CHECKS: { readonly [K in RuleKind]: CheckFactory<K> } = {
  operations,
  privileged,
  'host-mounts': hostMounts,
  capabilities,
  devices,
  'host-namespaces': hostNamespaces,
  'security-options': securityOptions,
  'host-settings': hostSettings,
  'shared-containers': sharedContainers,
  networks,
  registries,
  'host-resources': hostResources,
  ownership,
};

export interface CompiledRule {
  readonly id: string;
  readonly kind: RuleKind;
  readonly effect: 'allow' | 'deny';
  /** Logs what it would deny instead of denying (the rule's or the whole policy's `mode: audit`). */
  readonly audit: boolean;
  readonly appliesTo: (identity: string) => boolean;
  readonly check: Check;
}

export interface CompiledPolicy {
  readonly source: string;
  /** The policy text's sha256, first 12 hex digits (in every decision line), once known. */
  readonly hash?: string;
  /** Set when no valid policy could be loaded: every request but the CLI's handshake is refused with this. */
  readonly denyAll?: string;
  /** Requests for API versions older than this are denied. */
  readonly minApiVersion: string;
  readonly isOldApi: (version: string) => boolean;
  /** Built-in: the API may not disable or replace this plugin. */
  readonly protectSelf: (req: DockerRequest) => string | undefined;
  readonly hello: {
    readonly enabled: boolean;
    /** Canonical reference (docker.io/library/hello-world:latest). */
    readonly image: string;
    readonly scope: 'identity' | 'global';
    /** The denial shown to callers who have not said hello yet. */
    readonly message: string;
    readonly audit: boolean;
  };
  readonly rules: readonly CompiledRule[];
}

function scopeMatcher(rule: Rule, groups: Policy['groups']): (identity: string) => boolean {
  const expand = (users: readonly string[] = [], names: readonly string[] = []) =>
    new Set([...users, ...names.flatMap((g) => groups[g] ?? [])]);
  const only = rule.users || rule.groups ? expand(rule.users, rule.groups) : undefined;
  const except = expand(rule.exceptUsers, rule.exceptGroups);
  return (identity) => (only === undefined || only.has(identity)) && !except.has(identity);
}

function compileRule<K extends RuleKind>(rule: Extract<Rule, { kind: K }>, policy: Policy, ctx: CompileContext): CompiledRule {
  const factory = CHECKS[rule.kind] as CheckFactory<K>;
  const { groups } = policy;
  return {
    id: rule.id,
    kind: rule.kind,
    effect: 'effect' in rule ? rule.effect : 'deny',
    audit: rule.mode === 'audit' || policy.mode === 'audit',
    appliesTo: scopeMatcher(rule, groups),
    check: factory(rule, ctx),
  };
}

/**
 * What serves when no valid policy can be loaded (a broken file and nothing saved from before): it
 * refuses everything but the CLI's handshake, telling the caller why and how to fix it.
 */
export function denyAllPolicy(reason: string, pluginName = 'authz'): CompiledPolicy {
  const base = compilePolicy(
    policyParser().policySchema.parse({ version: 1, hello: { enabled: false } }),
    '(none: deny everything)',
    pluginName,
  );
  return Object.freeze({ ...base, denyAll: reason });
}

/** Compiles a validated policy into matchers, once; evaluation then does no parsing and no I/O. */
export function compilePolicy(policy: Policy, source: string, pluginName = 'authz'): CompiledPolicy {
  let rules: readonly CompiledRule[] = [];
  const ctx: CompileContext = { groups: policy.groups, rules: () => rules };
  rules = Object.freeze(policy.rules.map((r) => Object.freeze(compileRule(r, policy, ctx))));
  return Object.freeze({
    source,
    minApiVersion: policy.api.minVersion,
    isOldApi: olderThan(policy.api.minVersion),
    protectSelf: selfProtection(pluginName),
    hello: Object.freeze({
      enabled: policy.hello.enabled,
      scope: policy.hello.scope,
      image: canonicalImage(policy.hello.image),
      message: helloMessage(policy.hello.image),
      audit: policy.hello.mode === 'audit' || policy.mode === 'audit',
    }),
    rules,
  });
}
