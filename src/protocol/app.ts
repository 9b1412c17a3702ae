import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { codedError, codes } from '../errors.js';
import type { ReloadOutcome } from '../policy/lifecycle.js';
import { failureBody } from './endpoints.js';

export type PluginEnv = { Bindings: Partial<HttpBindings> };

/** What /health reports: enough for a monitor and for `docker-authz status`. */
export interface HealthReport {
  /** ok: serving the configured policy with working state; degraded: serving, but something needs the operator. */
  readonly status: 'ok' | 'degraded';
  readonly [key: string]: unknown;
}

export interface AppDeps {
  readonly pluginName: string;
  readonly banner: () => string;
  readonly health: () => HealthReport;
  readonly reload: () => ReloadOutcome;
  readonly onError: (err: unknown) => void;
}

/**
 * The plugin's HTTP surface besides the plugin protocol (endpoints.ts): a banner, health, and
 * administration for the docker-authz CLI. The socket is root-only.
 */
export function createApp(deps: AppDeps): Hono<PluginEnv> {
  const app = new Hono<PluginEnv>();
  app.use(
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) =>
        c.body(failureBody(codedError(codes.REQUEST_TOO_LARGE, 'request body too large')), 413, { 'Content-Type': 'application/json' }),
    }),
  );
  app.get('/', (c) => c.text(`${deps.banner()}\n`));
  app.get('/health', (c) => c.json(deps.health()));
  app.post('/-/reload', (c) => {
    const outcome = deps.reload();
    return c.json(outcome, outcome.ok ? 200 : 422);
  });
  app.notFound((c) => c.json({ Err: `docker-authz: no such endpoint ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    deps.onError(err);
    return c.body(failureBody(err), 500, { 'Content-Type': 'application/json' });
  });
  return app;
}
