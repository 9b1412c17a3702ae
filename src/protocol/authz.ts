import { codes, type ErrorCode } from '../errors.js';
import { decisionLog } from '../log/decision-log.js';
import type { Logger } from '../log/logger.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { evaluate, type Decision } from '../policy/evaluate.js';
import { isGreetingCreate } from '../policy/gate.js';
import { normalize } from '../request/normalize.js';
import { ANONYMOUS, identityName, type AuthzEnvelope } from '../request/types.js';
import type { HelloStore } from '../state/hello-store.js';

export interface AuthzDeps {
  /** The policy in force; reloads swap it between requests. */
  readonly policy: () => CompiledPolicy;
  readonly greetings: HelloStore;
  readonly log: Logger;
}

/** The two AuthZ calls, from the daemon's request text to the JSON text to answer with. */
export interface AuthzHandlers {
  /** AuthZReq. Synchronous and free of I/O; malformed input is a denial, never an exception. */
  request(text: string): string;
  /** AuthZRes. Always allows (it cannot undo anything); records a completed greeting. */
  response(text: string): Promise<string>;
}

const ALLOW_BODY = '{"Allow":true}';
const GREETING_WRITE_DEADLINE_MS = 2000;
const NORMALIZE_RULES: Partial<Record<ErrorCode, string>> = { [codes.OPERATION_UNKNOWN]: 'unknown-operation' };

type Envelope = AuthzEnvelope & Record<string, unknown>;

// The daemon sends no Content-Type, so the text is parsed here (Hono's JSON validator would skip it).
function parseEnvelope(text: string): Envelope | string {
  if (text.trim() === '') return 'empty request (the daemon resends an empty body when it retries a dropped call)';
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'request is not a JSON object';
    return value as Envelope;
  } catch {
    return 'request is not valid JSON';
  }
}

const pathOf = (env: Envelope): string | undefined => {
  const uri = env.RequestUri;
  return typeof uri === 'string' ? uri.split('?')[0] : undefined;
};

const answer = (d: Decision): string => (d.allow ? ALLOW_BODY : JSON.stringify({ Allow: false, Msg: d.message }));

export function createAuthzHandlers(deps: AuthzDeps): AuthzHandlers {
  const { log } = deps;
  const logDecision = decisionLog(log);
  return {
    request: function authzRequest(text) {
      const env = parseEnvelope(text);
      if (typeof env === 'string') {
        const message = `docker-authz: ${env}`;
        logDecision({
          identity: ANONYMOUS,
          method: undefined,
          path: undefined,
          op: undefined,
          allow: false,
          rule: 'request-integrity',
          reason: message,
        });
        return answer({ allow: false, rule: 'request-integrity', message });
      }
      const n = normalize(env);
      if (!n.ok) {
        const rule = NORMALIZE_RULES[n.code] ?? 'request-integrity';
        const message = `denied by rule ${rule}: ${n.message}`;
        const identity = typeof env.User === 'string' && env.User ? env.User : ANONYMOUS;
        logDecision({
          identity,
          method: env.RequestMethod,
          path: n.path ?? pathOf(env),
          op: n.op,
          allow: false,
          rule,
          reason: message,
          code: n.code,
        });
        return answer({ allow: false, rule, message });
      }
      const req = n.request;
      const decision = evaluate(deps.policy(), req, deps.greetings);
      logDecision({
        identity: identityName(req.identity),
        method: req.method,
        path: req.path,
        op: req.op,
        allow: decision.allow,
        rule: decision.rule,
        ...(!decision.allow && { reason: decision.message }),
      });
      return answer(decision);
    },

    response: async function authzResponse(text) {
      const env = parseEnvelope(text);
      // Only a create the daemon answered 201 can be a greeting; skip decoding everything else.
      const policy = deps.policy();
      if (typeof env === 'string' || env.ResponseStatusCode !== 201 || env.RequestMethod !== 'POST' || !policy.hello.enabled)
        return ALLOW_BODY;
      const n = normalize(env);
      if (n.ok && isGreetingCreate(policy, n.request)) {
        const identity = identityName(n.request.identity);
        const saved = deps.greetings.greet(identity).then(() => 'saved' as const);
        saved.catch(() => undefined); // a failure after the deadline must not become an unhandled rejection
        const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, GREETING_WRITE_DEADLINE_MS, 'timeout').unref());
        try {
          const outcome = await Promise.race([saved, deadline]);
          log.info({ identity, op: n.request.op, greeted: true, persisted: outcome === 'saved' }, 'hello');
        } catch (err) {
          log.error({ identity, err }, 'could not save the hello state; the greeting holds until restart');
        }
      }
      return ALLOW_BODY;
    },
  };
}
