import { decisionLog } from '../log/decision-log.js';
import type { PluginLog } from '../log/logger.js';
import { deny, ruleForError, type Decision } from '../policy/built-in.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { evaluate } from '../policy/evaluate.js';
import { isGreetingCreate, type GreetingView } from '../policy/gate.js';
import type { ObjectView, StateView } from '../policy/state-view.js';
import { normalize } from '../request/normalize.js';
import { ANONYMOUS, identityName } from '../request/types.js';
import { parseEnvelope } from './envelope.js';
import { preparedOperation, type Prepared } from './prepare.js';
import type { Counts } from '../metrics/counts.js';
import { recordOutcome, type ObjectRecorder } from './record.js';

/** The greetings the AuthZ calls read and record (the shared state database). */
export interface GreetingStore extends GreetingView {
  /** Records a greeting durably; true when it is new. Throws when it cannot be recorded. */
  greet(identity: string): boolean;
}

export interface AuthzDeps {
  /** The policy in force; reloads swap it between requests. */
  readonly policy: () => CompiledPolicy;
  readonly greetings: GreetingStore;
  /** Whose each container, volume, network and exec is (the shared state database), if kept. */
  readonly objects?: ObjectView & ObjectRecorder;
  readonly log: PluginLog;
  /** Where decisions and greetings are counted (metrics). */
  readonly counts?: Counts;
  /** Told the nonce of a `docker-authz status` probe (a ping sent through the daemon). */
  readonly onProbe?: (nonce: string) => void;
  /** The secret on the plugin's own read-only calls to the daemon (see state/self-token.ts). */
  readonly selfToken?: string;
}

/** The header on the plugin's own calls to the daemon. */
export const SELF_HEADER = 'X-Docker-Authz-Self';

// What the plugin itself asks the daemon: reads only, so a leaked token grants no more than reads.
const SELF_OPS = new Set([
  'system.ping',
  'system.events',
  'system.info',
  'container.list',
  'container.inspect',
  'volume.list',
  'volume.inspect',
  'network.list',
  'network.inspect',
]);

/** The header `docker-authz status` puts on the ping it sends through the daemon. */
export const PROBE_HEADER = 'X-Docker-Authz-Probe';

/**
 * The two AuthZ calls, from the daemon's request text to the JSON text to answer with. A big call
 * comes read and decoded by a worker instead of as text (`Prepared`, see decode-pool.ts): the
 * same envelope and operation the handler would have made of the text, or why there are none.
 */
export interface AuthzHandlers {
  /** AuthZReq. Synchronous and free of I/O but one state read; malformed input is a denial, never an exception. */
  request(input: string | Prepared): string;
  /** AuthZRes. Always allows (it cannot undo anything); records a completed greeting and what was created or removed. */
  response(input: string | Prepared): string;
}

const ALLOW_BODY = '{"Allow":true}';
const SELF_ALLOWED: Decision = Object.freeze({ allow: true, rule: 'plugin-self' });

const answer = (d: Decision): string => (d.allow ? ALLOW_BODY : JSON.stringify({ Allow: false, Msg: d.message }));

export function createAuthzHandlers(deps: AuthzDeps): AuthzHandlers {
  const { log } = deps.log;
  const { counts } = deps;
  const logDecision = decisionLog(deps.log);
  const { selfToken, objects } = deps;
  const state: StateView = { greetings: deps.greetings, objects };
  const isSelf = (op: string, headers: unknown): boolean =>
    selfToken !== undefined &&
    SELF_OPS.has(op) &&
    typeof headers === 'object' &&
    headers !== null &&
    (headers as Record<string, unknown>)[SELF_HEADER] === selfToken;
  const notice = (headers: unknown) => {
    const nonce = typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>)[PROBE_HEADER] : undefined;
    if (typeof nonce === 'string' && /^[0-9a-f]{32}$/.test(nonce)) {
      try {
        deps.onProbe!(nonce);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not note a status probe');
      }
    }
  };
  return {
    request: function authzRequest(input) {
      const started = performance.now();
      const env = typeof input === 'string' ? parseEnvelope(input) : input.env;
      let identity = ANONYMOUS;
      let method: unknown;
      let path: string | undefined;
      let op: string | undefined;
      let image: string | undefined;
      let code: string | undefined;
      let decision: Decision;
      const policy = deps.policy();
      if (typeof input !== 'string' && input.failed !== undefined) {
        code = 'AUTHZ_INTERNAL';
        decision = deny('internal-error', input.failed);
      } else if (typeof env === 'string') {
        code = 'AUTHZ_REQUEST_MALFORMED';
        decision = deny('request-integrity', env);
      } else {
        method = env.RequestMethod;
        try {
          const n = typeof input === 'string' ? normalize(env) : preparedOperation(input);
          if (n.ok) {
            ({ method, path, op } = n.request);
            identity = identityName(n.request.identity);
            if (op === 'container.create' && n.request.subject.kind === 'container') image = n.request.subject.image;
            else if (op === 'system.ping' && deps.onProbe) notice(env.RequestHeaders);
            decision = isSelf(op, env.RequestHeaders) ? SELF_ALLOWED : evaluate(policy, n.request, state);
          } else {
            ({ path, op, code } = n);
            if (n.identity) identity = identityName(n.identity);
            decision = deny(ruleForError(n.code), n.message);
          }
        } catch (err) {
          // A bug: refuse, say so, and keep serving.
          code = 'AUTHZ_INTERNAL';
          log.error({ err, identity, op }, 'deciding a request failed');
          decision = deny('internal-error', 'docker-authz failed while deciding this request (see its log)');
        }
      }
      const audited = decision.audit;
      logDecision({
        identity,
        method,
        path,
        op,
        image,
        allow: decision.allow,
        audit: audited && true,
        rule: audited ? audited.rule : decision.rule,
        reason: audited ? audited.message : decision.allow ? undefined : decision.message,
        code,
        policy: policy.hash,
      });
      counts?.decision(
        op,
        audited ? audited.rule : decision.rule,
        audited ? 'audit' : decision.allow ? 'allow' : 'deny',
        (performance.now() - started) / 1000,
      );
      return answer(decision);
    },

    response: function authzResponse(input) {
      // A call that could not be decoded (input.failed) has no envelope: nothing to record.
      const env = typeof input === 'string' ? parseEnvelope(input) : input.env;
      // Only a create (201) or a removal or rename (204) changes what is recorded: skip decoding everything else.
      if (typeof env === 'string' || (env.ResponseStatusCode !== 201 && env.ResponseStatusCode !== 204)) return ALLOW_BODY;
      const policy = deps.policy();
      if (!objects && !(policy.hello.enabled && env.ResponseStatusCode === 201 && env.RequestMethod === 'POST')) return ALLOW_BODY;
      const n = typeof input === 'string' ? normalize(env) : preparedOperation(input);
      if (!n.ok) return ALLOW_BODY;
      const identity = identityName(n.request.identity);
      if (policy.hello.enabled && isGreetingCreate(policy, n.request) && env.ResponseStatusCode === 201) {
        try {
          const added = deps.greetings.greet(identity);
          if (added) counts?.add('greetings');
          log.info({ identity, op: n.request.op, greeted: true, new: added }, 'hello');
        } catch (err) {
          log.error(
            { identity, err: (err as Error).message },
            'could not record the greeting; the caller must say hello again once the state database works',
          );
        }
      }
      if (objects) {
        try {
          recordOutcome(env, n.request, objects);
        } catch (err) {
          log.error(
            { identity, op: n.request.op, err: (err as Error).message },
            'could not record who created or removed an object; an object without a known owner is for administrators only',
          );
        }
      }
      return ALLOW_BODY;
    },
  };
}
