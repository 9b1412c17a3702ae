import { identityName, type DockerRequest } from '../request/types.js';
import { ALLOW, deny, type Decision } from './built-in.js';
import type { CompiledPolicy } from './compile.js';
import { gateMessage, hasSaidHello, isGreetingStep, type GreetingView } from './gate.js';

export type { Decision } from './built-in.js';

// What the docker CLI sends before anything else: answering them lets it show the real denial
// instead of a version-negotiation error.
const HANDSHAKE = new Set(['system.ping', 'system.version']);

/**
 * Decides one request. Pure: the policy, the request and a read-only view of the hello state come
 * in; nothing is read or written. Built-in checks (no valid policy, the plugin's own safety, the
 * oldest API version) come first, then the hello gate, then rules in order: the first rule that
 * matches decides, and a request no rule matches is allowed.
 */
export function evaluate(policy: CompiledPolicy, req: DockerRequest, greetings: GreetingView): Decision {
  if (policy.denyAll !== undefined && !HANDSHAKE.has(req.op)) return deny('policy-invalid', policy.denyAll);
  const self = policy.protectSelf(req);
  if (self) return deny('self-protection', self);
  if (req.apiVersion !== undefined && policy.isOldApi(req.apiVersion)) {
    return deny('api-version', `API version ${req.apiVersion} is older than ${policy.minApiVersion}, the oldest this policy allows`);
  }
  const identity = identityName(req.identity);
  if (!hasSaidHello(policy, greetings, identity) && !isGreetingStep(policy, req)) return deny('hello', gateMessage(policy, greetings));
  for (const rule of policy.rules) {
    if (!rule.appliesTo(identity)) continue;
    const found = rule.check(req);
    if (!found) continue;
    if (rule.effect === 'allow') return { allow: true, rule: rule.id };
    return deny(rule.id, `${found.field} ${found.reason}`);
  }
  return ALLOW;
}
