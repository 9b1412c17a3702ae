import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { codes } from '../errors.js';
import type { AuthzDeps, AuthzHandlers } from './authz.js';

export interface ReloadOutcome {
  readonly ok: boolean;
  readonly source: string;
  readonly errors?: readonly string[];
}

export interface PluginDeps extends AuthzDeps {
  readonly pluginName: string;
  readonly reload?: () => Promise<ReloadOutcome>;
}

export type PluginEnv = { Bindings: Partial<HttpBindings> };

// What the daemon expects from a legacy plugin's handshake (pkg/plugins/plugins.go).
const MANIFEST = { Implements: ['authz'] };
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

/** The plugin's HTTP surface: the Docker plugin protocol, a banner, health, and administration. */
export function createApp(deps: PluginDeps, authz: AuthzHandlers): Hono<PluginEnv> {
  const { log } = deps;
  const app = new Hono<PluginEnv>();
  const text = (c: Context<PluginEnv>) => c.req.text();

  app.post('/Plugin.Activate', (c) => c.json(MANIFEST));
  // The server answers these two straight from node:http (see server.ts); these routes serve the
  // same handlers to in-process callers (app.request) and are the reference for what they do.
  app.post('/AuthZPlugin.AuthZReq', async (c) => c.body(authz.request(await text(c)), 200, JSON_HEADERS));
  app.post('/AuthZPlugin.AuthZRes', async (c) => c.body(await authz.response(await text(c)), 200, JSON_HEADERS));

  app.get('/', (c) =>
    c.text(`docker-authz: Docker authorization plugin "${deps.pluginName}" is running (policy: ${deps.policy().source})\n`),
  );
  app.get('/health', (c) => c.json({ status: 'ok', plugin: deps.pluginName, policy: deps.policy().source }));

  // Administration, for the docker-authz CLI; the socket is root-only.
  app.get('/-/hello', (c) =>
    c.json({ enabled: deps.policy().hello.enabled, scope: deps.policy().hello.scope, greeted: deps.greetings.list() }),
  );
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
