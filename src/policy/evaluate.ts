import { identityName, type DockerRequest } from '../request/types.js';
import type { CompiledPolicy } from './compile.js';
import { hasSaidHello, HELLO_RULE, isGreetingStep, type GreetingView } from './gate.js';
import { SELF_RULE } from './self-protection.js';

export type Decision =
  { readonly allow: true; readonly rule?: string } | { readonly allow: false; readonly rule: string; readonly message: string };

export const API_RULE = 'api-version';
const ALLOW: Decision = Object.freeze({ allow: true });

/**
 * Decides one request. Pure: the policy, the request and a read-only view of the hello state come
 * in; nothing is read or written. Built-in checks (the plugin's own safety, the oldest API version)
 * come first, then the hello gate, then rules in order: the first rule that matches decides, and a
 * request no rule matches is allowed.
 */
export function evaluate(policy: CompiledPolicy, req: DockerRequest, greetings: GreetingView): Decision {
  const self = policy.protectSelf(req);
  if (self) return { allow: false, rule: SELF_RULE, message: self };
  if (req.apiVersion !== undefined && policy.isOldApi(req.apiVersion)) {
    return {
      allow: false,
      rule: API_RULE,
      message: `denied by rule ${API_RULE}: API version ${req.apiVersion} is older than ${policy.minApiVersion}, the oldest this policy allows`,
    };
  }
  const identity = identityName(req.identity);
  if (!hasSaidHello(policy, greetings, identity) && !isGreetingStep(policy, req)) {
    return { allow: false, rule: HELLO_RULE, message: policy.hello.message };
  }
  for (const rule of policy.rules) {
    if (!rule.appliesTo(identity)) continue;
    const found = rule.check(req);
    if (!found) continue;
    if (rule.effect === 'allow') return { allow: true, rule: rule.id };
    return { allow: false, rule: rule.id, message: `denied by rule ${rule.id}: ${found.field} ${found.reason}` };
  }
  return ALLOW;
}
