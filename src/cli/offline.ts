import { deny, ruleForError, type Decision } from '../policy/built-in.js';
import { compilePolicy, type CompiledPolicy } from '../policy/compile.js';
import { evaluate, type TraceOutcome } from '../policy/evaluate.js';
import type { GreetingView } from '../policy/gate.js';
import { groupsOf } from '../policy/groups-edit.js';
import type { StateView } from '../policy/state-view.js';
import { loadPolicyFile, type PolicyIssue } from '../policy/load.js';
import type { Policy, Rule } from '../policy/schema.js';
import { parseEnvelope, type Envelope } from '../protocol/envelope.js';
import { normalize } from '../request/normalize.js';
import { ANONYMOUS, identityName } from '../request/types.js';
import { offlineObjects, type ObjectSpec } from './offline-objects.js';

// Deciding one request offline, the way the plugin does (parseEnvelope → normalize → evaluate), with
// every step explained: `docker-authz explain` and `docker-authz test`. Nothing here reads or writes
// the plugin's state: whether the caller has said hello, and who created which objects, are given.

/** A policy file read for offline use: as written (for rule options and groups) and compiled. */
export interface OfflinePolicy {
  readonly source: string;
  readonly policy: Policy;
  readonly compiled: CompiledPolicy;
}

export function loadOfflinePolicy(
  file: string | undefined,
  pluginName: string,
): { ok: true; value: OfflinePolicy } | { ok: false; issues: readonly PolicyIssue[] } {
  const r = loadPolicyFile(file);
  if (!r.ok) return { ok: false, issues: r.issues };
  return { ok: true, value: { source: r.source, policy: r.policy, compiled: compilePolicy(r.policy, r.source, pluginName) } };
}

/** A request as a person writes it: the body is JSON text, the user a TLS name or "@anonymous". */
export interface RequestSpec {
  readonly method: string;
  /** The API path with its query, with or without a version prefix: `/v1.41/containers/create`. */
  readonly path: string;
  readonly body?: string | undefined;
  readonly user: string;
}

/** The AuthZReq the daemon would send for `spec` (base64 body, the headers the docker CLI sends). */
export function envelopeOf(spec: RequestSpec): Envelope {
  const method = spec.method.toUpperCase();
  const headers: Record<string, string> = { 'User-Agent': 'docker-authz-explain' };
  if (spec.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(spec.body));
  } else if (method === 'POST' || method === 'PUT') {
    // Go's HTTP client declares an empty body on a bodiless POST or PUT.
    headers['Content-Length'] = '0';
  }
  return {
    ...(spec.user !== ANONYMOUS && { User: spec.user }),
    RequestMethod: method,
    RequestUri: spec.path,
    RequestHeaders: headers,
    ...(spec.body !== undefined && { RequestBody: Buffer.from(spec.body).toString('base64') }),
  };
}

/**
 * One step of the decision. Besides evaluation's own outcomes: `not-reached` (an earlier step
 * decided; `would` says what this rule would have done).
 */
export interface Step {
  readonly id: string;
  /** A policy rule's kind; absent for the built-in steps. */
  readonly kind?: string;
  readonly outcome: TraceOutcome | 'not-reached';
  readonly would?: 'skip' | 'no-match' | 'match';
  readonly detail: string;
}

export interface Explanation {
  readonly method: string;
  readonly path: string;
  /** The Docker operation, when the request maps to one. */
  readonly op?: string;
  readonly apiVersion?: string;
  readonly identity: string;
  /** The policy's groups the identity is in. */
  readonly groups: readonly string[];
  readonly greeted: boolean;
  readonly decision: Decision;
  /** The error code, when the request could not be judged (unknown route, hidden or malformed body, ...). */
  readonly code?: string;
  readonly steps: readonly Step[];
}

// What each kind of rule looks at, for "nothing in it matches" (a kind missing here gets a plain text).
const JUDGES: Readonly<Partial<Record<string, string>>> = {
  privileged: '--privileged on containers and exec',
  'host-mounts': 'host paths in -v, --mount and local volumes',
  capabilities: '--cap-add and the capability list',
  devices: '--device, --device-cgroup-rule and --gpus',
  'host-namespaces': '--pid/--ipc/--network/--uts/--userns/--cgroupns host, and builds with --network host',
  'security-options': '--security-opt and the protected /proc paths',
  'host-settings': '--cgroup-parent, --runtime, --log-driver, --sysctl, and URLs the daemon would fetch',
  'shared-containers': '--volumes-from and container:<id> namespaces',
  networks: 'network drivers, driver options and the addresses callers choose',
  registries: 'the registry a pull, push, search, plugin install or login reaches',
  'host-resources': '--oom-score-adj, --oom-kill-disable, --pids-limit, --ulimit, real-time CPU and per-device block I/O',
  ownership: 'whose the containers, volumes, networks and execs it names are',
};

/** What the plugin's state would say: whether the caller has said hello, and who created which objects. */
export interface OfflineState {
  readonly greeted: boolean;
  readonly objects?: readonly ObjectSpec[];
}

function stateFor({ greeted, objects = [] }: OfflineState): StateView {
  const greetings: GreetingView = greeted ? { isGreeted: () => true, anyGreeted: true } : { isGreeted: () => false, anyGreeted: false };
  return { greetings, objects: offlineObjects(objects) };
}

const list = (xs: readonly string[]) => xs.join(', ');

/** Why `rule` does not apply to `identity`. */
function notForYou(rule: Rule, policy: Policy, identity: string): string {
  const inGroups = (names: readonly string[] = []) => names.filter((g) => policy.groups[g]?.includes(identity));
  if (rule.exceptUsers?.includes(identity)) return `does not apply: ${identity} is in its exceptUsers`;
  const excepted = inGroups(rule.exceptGroups);
  if (excepted.length) return `does not apply: ${identity} is in its exceptGroups (${list(excepted)})`;
  const only = [
    ...(rule.users ? [`users ${list(rule.users)}`] : []),
    ...(rule.groups ? [`groups ${list(rule.groups.map((g) => `${g} [${list(policy.groups[g] ?? [])}]`))}`] : []),
  ];
  return `does not apply: only to ${only.join(' and ')}; ${identity} is not one of them`;
}

function noMatch(rule: Rule, op: string): string {
  if (rule.kind === 'operations') {
    const ops = rule.operations;
    const shown = ops.length > 6 ? `${list(ops.slice(0, 5))} and ${ops.length - 5} more` : list(ops);
    return `${op} is not one of its operations (${shown})`;
  }
  return `nothing this rule refuses (it judges ${JUDGES[rule.kind] ?? `the request's ${rule.kind} settings`})`;
}

/** Decides `input` (an AuthZReq's text, or the envelope itself) against `policy`, step by step. */
export function explain(policy: OfflinePolicy, input: string | Envelope, given: OfflineState): Explanation {
  const env = typeof input === 'string' ? parseEnvelope(input) : input;
  const { greeted } = given;
  try {
    return decide(policy, env, given);
  } catch (err) {
    // As the plugin does: a failure while deciding is a denial.
    const message = `docker-authz failed while deciding this request: ${(err as Error).message}`;
    const identity = typeof env !== 'string' && typeof env.User === 'string' && env.User !== '' ? env.User : ANONYMOUS;
    return {
      method: typeof env === 'string' ? '' : String(env.RequestMethod ?? ''),
      path: typeof env === 'string' ? '' : String(env.RequestUri ?? ''),
      greeted,
      identity,
      groups: groupsOf(policy.policy, identity),
      decision: deny('internal-error', message),
      code: 'AUTHZ_INTERNAL',
      steps: [{ id: 'internal-error', outcome: 'match', detail: message }],
    };
  }
}

function decide(policy: OfflinePolicy, env: Envelope | string, given: OfflineState): Explanation {
  const { greeted } = given;
  const base = {
    method: typeof env === 'string' ? '' : String(env.RequestMethod ?? ''),
    path: typeof env === 'string' ? '' : String(env.RequestUri ?? ''),
    greeted,
  };
  const fallbackIdentity =
    typeof env !== 'string' && typeof env.User === 'string' && env.User !== '' && !env.User.startsWith('@') ? env.User : ANONYMOUS;
  const unjudged = (identity: string, rule: string, message: string, code: string, op?: string): Explanation => ({
    ...base,
    ...(op !== undefined && { op }),
    identity,
    groups: groupsOf(policy.policy, identity),
    decision: deny(rule, message),
    code,
    steps: [{ id: rule, outcome: 'match', detail: `${message} (${code}); no rule was consulted` }],
  });
  if (typeof env === 'string') return unjudged(ANONYMOUS, 'request-integrity', env, 'AUTHZ_REQUEST_MALFORMED');
  const n = normalize(env);
  if (!n.ok) {
    const identity = n.identity ? identityName(n.identity) : fallbackIdentity;
    return unjudged(identity, ruleForError(n.code), n.message, n.code, n.op);
  }
  const req = n.request;
  const identity = identityName(req.identity);
  const raw = new Map(policy.policy.rules.map((r) => [r.id, r]));
  const steps: Step[] = [];
  const state = stateFor(given);
  const decision = evaluate(policy.compiled, req, state, {
    step(id, outcome, detail) {
      const rule = raw.get(id);
      if (!rule) {
        steps.push({ id, outcome, detail });
        return;
      }
      const text = outcome === 'skip' ? notForYou(rule, policy.policy, identity) : outcome === 'no-match' ? noMatch(rule, req.op) : detail;
      steps.push({ id, kind: rule.kind, outcome, detail: text });
    },
  });
  // The rules after the one that decided: what each would have done.
  const seen = new Set(steps.map((s) => s.id));
  for (const rule of policy.compiled.rules) {
    if (seen.has(rule.id)) continue;
    const written = raw.get(rule.id)!;
    let would: Step['would'];
    let detail: string;
    if (!rule.appliesTo(identity)) {
      would = 'skip';
      detail = `not reached; would not apply anyway (${notForYou(written, policy.policy, identity).replace(/^does not apply: /, '')})`;
    } else {
      const found = rule.check(req, state);
      would = found ? 'match' : 'no-match';
      detail = found
        ? `not reached; would also ${rule.effect === 'allow' ? 'allow' : 'deny'}: ${found.field} ${found.reason}`
        : 'not reached; would not match either';
    }
    steps.push({ id: rule.id, kind: rule.kind, outcome: 'not-reached', would, detail });
  }
  return {
    ...base,
    op: req.op,
    ...(req.apiVersion !== undefined && { apiVersion: req.apiVersion }),
    identity,
    groups: groupsOf(policy.policy, identity),
    decision,
    steps,
  };
}

/** The decision in one line: `allowed`, `allowed by rule admins`, `denied by rule no-privileged`. */
export function verdict(d: Decision): string {
  if (!d.allow) return `denied by rule ${d.rule}`;
  const audit = d.audit ? ` (audit: rule ${d.audit.rule} would deny)` : '';
  return d.rule ? `allowed by rule ${d.rule}${audit}` : `allowed (no rule matched)${audit}`;
}
