import { basename, isAbsolute } from 'node:path';
import { z } from 'zod';
import { codes, codedError } from '../errors.js';

// Defaults live here and nowhere else; the result is validated once and frozen.
const envSchema = z.object({
  AUTHZ_SOCKET: z
    .string()
    .default('/run/docker/plugins/authz.sock')
    .refine(isAbsolute, 'must be an absolute path')
    .refine((p) => p.endsWith('.sock'), 'must end in .sock (docker names the plugin after the file)')
    .refine((p) => Buffer.byteLength(p) < 108, 'must be shorter than 108 bytes (unix socket limit)'),
  AUTHZ_POLICY: z
    .string()
    .optional()
    .transform((p) => (p === '' ? undefined : p)),
  AUTHZ_STATE_DIR: z.string().default('/var/lib/docker-authz').refine(isAbsolute, 'must be an absolute path'),
  AUTHZ_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  AUTHZ_METRICS: z
    .string()
    .default('off')
    .transform((v, ctx): MetricsListen => {
      const listen = parseMetricsListen(v);
      if (typeof listen === 'string') {
        ctx.addIssue({ code: 'custom', message: listen });
        return z.NEVER;
      }
      return listen;
    }),
});

/** Where Prometheus metrics are served: nowhere, a unix socket, or a loopback TCP port. */
export type MetricsListen =
  | { readonly kind: 'off' }
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

function parseMetricsListen(v: string): MetricsListen | string {
  if (v === 'off' || v === '') return { kind: 'off' };
  if (v.startsWith('unix:')) {
    const path = v.slice('unix:'.length);
    if (!isAbsolute(path)) return 'unix: needs an absolute socket path, e.g. unix:/run/docker-authz/metrics.sock';
    return Buffer.byteLength(path) < 108 ? { kind: 'unix', path } : 'unix: the socket path must be shorter than 108 bytes';
  }
  const m = /^tcp:(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  if (m) {
    const host = m[1] ?? m[2]!;
    const port = Number(m[3]);
    if (!LOOPBACK.test(host)) return `tcp: listens on loopback only (127.0.0.1, ::1, localhost), not ${host}`;
    if (port < 1 || port > 65535) return `tcp: port ${port} is out of range`;
    return { kind: 'tcp', host, port };
  }
  return 'must be off, unix:/path/to.sock or tcp:127.0.0.1:PORT';
}

export interface Config {
  readonly socket: string;
  /** The name dockerd knows the plugin by: the socket's basename without `.sock`. */
  readonly pluginName: string;
  readonly policyFile: string | undefined;
  readonly stateDir: string;
  readonly logLevel: z.infer<typeof envSchema>['AUTHZ_LOG_LEVEL'];
  readonly metrics: MetricsListen;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw codedError(codes.CONFIG_INVALID, `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = result.data;
  return Object.freeze({
    socket: e.AUTHZ_SOCKET,
    pluginName: basename(e.AUTHZ_SOCKET, '.sock'),
    policyFile: e.AUTHZ_POLICY,
    stateDir: e.AUTHZ_STATE_DIR,
    logLevel: e.AUTHZ_LOG_LEVEL,
    metrics: e.AUTHZ_METRICS,
  });
}
