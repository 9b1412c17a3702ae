import { identityName, type DockerRequest } from '../request/types.js';
import { deny, type Decision } from './built-in.js';
import type { CompiledPolicy } from './compile.js';
import { gateMessage, hasSaidHello, isGreetingStep } from './gate.js';
import type { StateView } from './state-view.js';

export type { Decision } from './built-in.js';

/**
 * What a step of evaluation found: `pass` (a built-in check or the gate let it through), `skip` (the
 * rule does not apply to the caller), `no-match`, `match` (this step decided), `audit` (it would
 * have denied, but is in audit mode).
 */
export type TraceOutcome = 'pass' | 'skip' | 'no-match' | 'match' | 'audit';

/** What evaluation did at each step, for `docker-authz explain` and `test`. Evaluation never needs it. */
export interface Trace {
  step(id: string, outcome: TraceOutcome, detail: string): void;
}

// What the docker CLI sends before anything else: answering them lets it show the real denial
// instead of a version-negotiation error.
const HANDSHAKE = new Set(['system.ping', 'system.version']);

const allow = (rule: string | undefined, audit: Decision['audit']): Decision =>
  audit === undefined
    ? rule === undefined
      ? ALLOWED
      : { allow: true, rule }
    : { allow: true, audit, ...(rule !== undefined && { rule }) };
const ALLOWED: Decision = Object.freeze({ allow: true });

/**
 * Decides one request. Pure: the policy, the request and a read-only view of the state (greetings,
 * object owners) come in; nothing is written. Built-in checks (no valid policy, the plugin's own safety, the
 * oldest API version) come first, then the hello gate, then rules in order: the first rule that
 * matches decides, and a request no rule matches is allowed. A gate or rule in audit mode that
 * would deny is noted in `audit` (the first such) and evaluation goes on as if it had not matched.
 */
export function evaluate(policy: CompiledPolicy, req: DockerRequest, state: StateView, trace?: Trace): Decision {
  const { greetings } = state;
  if (policy.denyAll !== undefined && !HANDSHAKE.has(req.op)) {
    trace?.step('policy-invalid', 'match', policy.denyAll);
    return deny('policy-invalid', policy.denyAll);
  }
  const self = policy.protectSelf(req);
  if (self) {
    trace?.step('self-protection', 'match', self);
    return deny('self-protection', self);
  }
  trace?.step('self-protection', 'pass', `${req.op} does not touch this plugin`);
  if (req.apiVersion !== undefined && policy.isOldApi(req.apiVersion)) {
    const detail = `API version ${req.apiVersion} is older than ${policy.minApiVersion}, the oldest this policy allows`;
    trace?.step('api-version', 'match', detail);
    return deny('api-version', detail);
  }
  trace?.step(
    'api-version',
    'pass',
    req.apiVersion === undefined
      ? "no API version in the path (the daemon's own)"
      : `API version ${req.apiVersion} is not older than ${policy.minApiVersion}`,
  );

  const identity = identityName(req.identity);
  let audit: Decision['audit'];
  const greeted = hasSaidHello(policy, greetings, identity);
  if (!greeted && !isGreetingStep(policy, req)) {
    const denial = deny('hello', gateMessage(policy, greetings));
    if (!policy.hello.audit) {
      trace?.step('hello', 'match', `${identity} has not said hello: ${gateMessage(policy, greetings)}`);
      return denial;
    }
    audit = { rule: denial.rule, message: denial.message };
    trace?.step('hello', 'audit', `${identity} has not said hello; the gate is in audit mode`);
  } else if (trace) {
    const why = !policy.hello.enabled
      ? 'the hello gate is off'
      : greeted
        ? policy.hello.scope === 'global'
          ? 'someone has said hello (scope: global)'
          : `${identity} has said hello`
        : `${identity} has not said hello, but this request is part of saying it`;
    trace.step('hello', 'pass', why);
  }

  for (const rule of policy.rules) {
    if (!rule.appliesTo(identity)) {
      trace?.step(rule.id, 'skip', `does not apply to ${identity}`);
      continue;
    }
    const found = rule.check(req, state);
    if (!found) {
      trace?.step(rule.id, 'no-match', `nothing in ${req.op} matches`);
      continue;
    }
    if (rule.effect === 'allow') {
      trace?.step(rule.id, 'match', `allows: ${found.field} ${found.reason}`);
      return allow(rule.id, audit);
    }
    const denial = deny(rule.id, `${found.field} ${found.reason}`);
    if (!rule.audit) {
      trace?.step(rule.id, 'match', `denies: ${found.field} ${found.reason}`);
      return denial;
    }
    trace?.step(rule.id, 'audit', `would deny (audit mode): ${found.field} ${found.reason}`);
    audit ??= { rule: denial.rule, message: denial.message };
  }
  return allow(undefined, audit);
}
