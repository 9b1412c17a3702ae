import { Hono, type Context } from 'hono';
import { codes, type ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { evaluate, type Decision } from '../policy/evaluate.js';
import { isGreetingDone } from '../policy/gate.js';
import { normalize } from '../request/normalize.js';
import { identityName, type AuthzEnvelope } from '../request/types.js';
import type { HelloStore } from '../state/hello-store.js';

export interface ReloadOutcome {
  readonly ok: boolean;
  readonly source: string;
  readonly errors?: readonly string[];
}

export interface PluginDeps {
  readonly pluginName: string;
  /** The policy in force; reloads swap it between requests. */
  readonly policy: () => CompiledPolicy;
  readonly greetings: HelloStore;
  readonly log: Logger;
  readonly reload?: () => Promise<ReloadOutcome>;
}

// What the daemon expects from a legacy plugin's handshake (pkg/plugins/plugins.go).
const MANIFEST = { Implements: ['authz'] };
const GREETING_WRITE_DEADLINE_MS = 2000;

const NORMALIZE_RULES: Partial<Record<ErrorCode, string>> = { [codes.OPERATION_UNKNOWN]: 'unknown-operation' };

type Envelope = AuthzEnvelope & Record<string, unknown>;

// The daemon sends no Content-Type, so read the text ourselves (Hono's JSON validator would skip it).
async function readEnvelope(c: Context): Promise<Envelope | string> {
  const text = await c.req.text();
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

export function createApp(deps: PluginDeps): Hono {
  const { log } = deps;
  const app = new Hono();

  const reply = (c: Context, d: Decision) => c.json(d.allow ? { Allow: true } : { Allow: false, Msg: d.message });

  app.post('/Plugin.Activate', (c) => c.json(MANIFEST));

  app.post('/AuthZPlugin.AuthZReq', async function authzRequest(c) {
    const env = await readEnvelope(c);
    if (typeof env === 'string') {
      log.warn({ allow: false, rule: 'request-integrity', reason: env }, 'decision');
      return reply(c, { allow: false, rule: 'request-integrity', message: `docker-authz: ${env}` });
    }
    const n = normalize(env);
    let decision: Decision;
    let fields: Record<string, unknown>;
    if (!n.ok) {
      const rule = NORMALIZE_RULES[n.code] ?? 'request-integrity';
      decision = { allow: false, rule, code: n.code, message: `denied by rule ${rule}: ${n.message}` };
      fields = { identity: typeof env.User === 'string' && env.User ? env.User : '@anonymous', method: env.RequestMethod, path: n.path ?? pathOf(env), op: n.op, code: n.code };
    } else {
      const req = n.request;
      decision = evaluate(deps.policy(), req, deps.greetings);
      fields = { identity: identityName(req.identity), method: req.method, path: req.path, op: req.op };
    }
    log.info({ ...fields, allow: decision.allow, rule: decision.rule, ...(!decision.allow && { reason: decision.message }) }, 'decision');
    return reply(c, decision);
  });

  // AuthZRes cannot undo what the daemon did; it only tells us a greeting container now exists.
  app.post('/AuthZPlugin.AuthZRes', async function authzResponse(c) {
    const env = await readEnvelope(c);
    if (typeof env !== 'string') {
      const n = normalize(env);
      if (n.ok && isGreetingDone(deps.policy(), n.request, env.ResponseStatusCode)) {
        const identity = identityName(n.request.identity);
        const written = deps.greetings.greet(identity);
        const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, GREETING_WRITE_DEADLINE_MS, 'timeout').unref());
        try {
          const outcome = await Promise.race([written.then(() => 'saved' as const), deadline]);
          log.info({ identity, op: n.request.op, greeted: true, persisted: outcome === 'saved' }, 'hello');
        } catch (err) {
          log.error({ identity, err }, 'could not save the hello state; the greeting holds until restart');
        }
      }
    }
    return c.json({ Allow: true });
  });

  app.get('/', (c) =>
    c.text(`docker-authz: Docker authorization plugin "${deps.pluginName}" is running (policy: ${deps.policy().source})\n`),
  );
  app.get('/health', (c) => c.json({ status: 'ok', plugin: deps.pluginName, policy: deps.policy().source }));

  // Administration, for the docker-authz CLI; the socket is root-only.
  app.get('/-/hello', (c) => c.json({ enabled: deps.policy().hello.enabled, scope: deps.policy().hello.scope, greeted: deps.greetings.list() }));
  app.post('/-/hello/reset', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { identity?: unknown };
    const identity = typeof body.identity === 'string' ? body.identity : undefined;
    const forgotten = await deps.greetings.reset(identity);
    log.info({ forgotten }, 'hello reset');
    return c.json({ forgotten });
  });
  app.post('/-/reload', async (c) => {
    if (!deps.reload) return c.json({ ok: false, errors: ['reload is not available'] }, 501);
    const outcome = await deps.reload();
    return c.json(outcome, outcome.ok ? 200 : 422);
  });

  app.notFound((c) => c.json({ Err: `docker-authz: no such endpoint ${c.req.method} ${c.req.path}` }, 404));
  // A non-200 with Err makes the daemon fail the call ("plugin failed with error"): never an allow.
  app.onError((err, c) => {
    log.error({ err }, 'internal error');
    return c.json({ Err: `docker-authz internal error (${codes.INTERNAL}): ${err.message}` }, 500);
  });
  return app;
}
