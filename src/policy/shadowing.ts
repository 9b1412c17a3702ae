import { KNOWN_OPERATIONS } from '../request/routes.js';
import { operationMatcher } from './checks/operations.js';
import type { Policy, Rule } from './schema.js';

/**
 * Rules that can never decide anything, found without evaluating a request (`docker-authz check`).
 * Only what is certain is reported; a rule that is not reported may still be useless. A rule j can
 * never match when:
 * - it applies to nobody: its `users`/`groups`, less its exceptions, name no identity;
 * - an earlier rule i that always decides when it matches (an allow rule, or a deny rule not in
 *   audit mode) applies to every identity j applies to, and either
 *   - i is an `operations` rule whose operations include every operation j names (j an
 *     `operations` rule) or every operation there is (j of any other kind), or
 *   - i is of the same kind as j with the same options (the same check, so it matches first).
 * Identities are compared through the policy's groups, which are all there is to an identity's
 * groups, so the comparison is exact.
 */
export interface ShadowWarning {
  /** The index in `rules` of the rule that can never match. */
  readonly rule: number;
  readonly message: string;
}

/** Who a rule applies to: a finite set of identities, or everyone but some. */
type Audience = { readonly some: ReadonlySet<string> } | { readonly allBut: ReadonlySet<string> };

const SCOPE_KEYS = new Set(['id', 'description', 'users', 'groups', 'exceptUsers', 'exceptGroups', 'mode']);

function audience(rule: Rule, groups: Policy['groups']): Audience {
  const expand = (users: readonly string[] = [], names: readonly string[] = []) =>
    new Set([...users, ...names.flatMap((g) => groups[g] ?? [])]);
  const except = expand(rule.exceptUsers, rule.exceptGroups);
  if (!rule.users && !rule.groups) return { allBut: except };
  return { some: new Set([...expand(rule.users, rule.groups)].filter((id) => !except.has(id))) };
}

/** Every identity `inner` applies to, `outer` applies to too. */
function covers(outer: Audience, inner: Audience): boolean {
  if ('some' in inner) return [...inner.some].every((id) => ('some' in outer ? outer.some.has(id) : !outer.allBut.has(id)));
  return 'allBut' in outer && [...outer.allBut].every((id) => inner.allBut.has(id));
}

const operationsOf = (rule: Extract<Rule, { kind: 'operations' }>): string[] =>
  [...KNOWN_OPERATIONS].filter(operationMatcher(rule.operations));

// A rule's options, scope aside, in a canonical form: equal text means the same check.
function options(rule: Rule): string {
  const entries = Object.entries(rule)
    .filter(([k]) => !SCOPE_KEYS.has(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(entries, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/** Why `later` can never match because of `earlier`, or undefined. */
function shadow(earlier: Rule, later: Rule, policy: Policy): string | undefined {
  const decides = (earlier.kind === 'operations' && earlier.effect === 'allow') || (earlier.mode !== 'audit' && policy.mode !== 'audit');
  if (!decides) return undefined;
  const target = audience(later, policy.groups);
  if (!covers(audience(earlier, policy.groups), target)) return undefined;
  const verb = earlier.kind === 'operations' && earlier.effect === 'allow' ? 'allows' : 'denies';
  if (earlier.kind === 'operations') {
    const mine = new Set(operationsOf(earlier));
    if (later.kind === 'operations') {
      return operationsOf(later).every((op) => mine.has(op))
        ? `rule ${earlier.id} above it ${verb} every operation it names, for everyone it applies to`
        : undefined;
    }
    return mine.size === KNOWN_OPERATIONS.size
      ? `rule ${earlier.id} above it ${verb} every operation, for everyone it applies to`
      : undefined;
  }
  return earlier.kind === later.kind && options(earlier) === options(later)
    ? `rule ${earlier.id} above it is the same check (${later.kind}, same options) and matches first, for everyone it applies to`
    : undefined;
}

/** The rules of a valid policy that can never match, and why (see above). */
export function findShadowedRules(policy: Policy): ShadowWarning[] {
  const warnings: ShadowWarning[] = [];
  policy.rules.forEach((rule, j) => {
    const target = audience(rule, policy.groups);
    if ('some' in target && target.some.size === 0) {
      warnings.push({
        rule: j,
        message: `rule ${rule.id} can never match: it applies to nobody (its users and groups, less its exceptions, name no one)`,
      });
      return;
    }
    for (let i = 0; i < j; i++) {
      const why = shadow(policy.rules[i]!, rule, policy);
      if (why) {
        warnings.push({ rule: j, message: `rule ${rule.id} can never match: ${why}` });
        return;
      }
    }
  });
  return warnings;
}
