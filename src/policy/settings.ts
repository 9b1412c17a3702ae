import type { DockerRequest } from '../request/types.js';
import type { CompiledRule } from './compile.js';
import type { RuleKind } from './schema.js';
import type { StateView } from './state-view.js';

/** A rule's objection to an object's settings. */
export interface Finding {
  readonly rule: string;
  readonly kind: RuleKind;
  readonly field: string;
  readonly reason: string;
}

/**
 * The deny rules that judge what an object is (its settings), as a create would be judged: not
 * `operations` rules, which judge what is done, nor `ownership`, which judges whose it is.
 */
export function settingRules(rules: readonly CompiledRule[]): CompiledRule[] {
  return rules.filter((r) => r.effect === 'deny' && r.kind !== 'operations' && r.kind !== 'ownership');
}

const NO_STATE: StateView = Object.freeze({ greetings: Object.freeze({ isGreeted: () => false, anyGreeted: false }) });

/** Every rule's objection to a request (one per rule). */
export function findings(rules: readonly CompiledRule[], req: DockerRequest, state: StateView = NO_STATE): Finding[] {
  const out: Finding[] = [];
  for (const rule of rules) {
    const v = rule.check(req, state);
    if (v) out.push({ rule: rule.id, kind: rule.kind, field: v.field, reason: v.reason });
  }
  return out;
}
