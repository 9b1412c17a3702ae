import { isCodedError } from '../errors.js';
import type { AuthzHandlers } from './authz.js';
import type { Prepared } from './prepare.js';

/**
 * A plugin-protocol endpoint: the call's body text in (or, for a big call, what a decode worker
 * made of it: see decode-pool.ts), the JSON text to answer 200 with out.
 */
export type Endpoint = (body: string | Prepared) => string;

// What the daemon expects from a legacy plugin's handshake (pkg/plugins/plugins.go).
const MANIFEST = JSON.stringify({ Implements: ['authz'] });

/**
 * The Docker plugin protocol: every call the daemon makes, by path. These are answered straight
 * from node:http (see server.ts): a web Request and Response per call through Hono's adapter would
 * double the plugin's CPU per Docker API call. Everything else is the Hono app (app.ts).
 */
export function pluginEndpoints(authz: AuthzHandlers): ReadonlyMap<string, Endpoint> {
  return new Map<string, Endpoint>([
    ['/Plugin.Activate', () => MANIFEST],
    ['/AuthZPlugin.AuthZReq', authz.request],
    ['/AuthZPlugin.AuthZRes', authz.response],
  ]);
}

/**
 * The one answer to a call that failed inside the plugin. A non-200 with Err makes the daemon fail
 * the API call ("plugin failed with error"): a refusal, never an allow.
 */
export function failureBody(err: unknown): string {
  const code = isCodedError(err) ? err.code : 'AUTHZ_INTERNAL';
  return JSON.stringify({ Err: `docker-authz error (${code}): ${err instanceof Error ? err.message : String(err)}` });
}
