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
  AUTHZ_DOCKER_HOST: z
    .string()
    .default('unix:///var/run/docker.sock')
    .refine((h) => h.startsWith('unix:///'), 'must be unix:///path/to/docker.sock (the daemon the plugin serves)'),
  // The user gateway (docker-authz gateway, docker-authz users).
  AUTHZ_PKI_DIR: z.string().default('/etc/docker-authz/pki').refine(isAbsolute, 'must be an absolute path'),
  AUTHZ_USERS_SOCKET_DIR: z
    .string()
    .default('/run/docker-authz/users')
    .refine(isAbsolute, 'must be an absolute path')
    // NAME.sock with a 32-character user name must stay under the 108-byte unix socket limit.
    .refine((p) => Buffer.byteLength(p) <= 108 - 40, 'must be at most 68 bytes (unix socket limit, with room for NAME.sock)'),
  AUTHZ_GATEWAY_SOCKET: z
    .string()
    .default('/run/docker-authz/gateway.sock')
    .refine(isAbsolute, 'must be an absolute path')
    .refine((p) => Buffer.byteLength(p) < 108, 'must be shorter than 108 bytes (unix socket limit)'),
  AUTHZ_DAEMON_TLS_ADDRESS: z
    .string()
    .default('127.0.0.1:2376')
    .transform((a, ctx) => {
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(a);
      const port = Number(m?.[3]);
      if (!m || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: 'must be HOST:PORT, e.g. 127.0.0.1:2376 or [::1]:2376' });
        return z.NEVER;
      }
      return { host: (m[1] ?? m[2])!, port };
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
  /** The daemon's own unix socket (for the plugin's read-only calls and `status`). */
  readonly dockerSocket: string;
  /** The users' PKI: CA, the daemon's server certificate, one client certificate per user. */
  readonly pkiDir: string;
  /** Where the gateway serves NAME.sock for each user. */
  readonly usersSocketDir: string;
  /** The gateway's root-only control socket (reload, status). */
  readonly gatewaySocket: string;
  /** The daemon's TLS listener the gateway connects to. */
  readonly daemonTls: { readonly host: string; readonly port: number };
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
    dockerSocket: e.AUTHZ_DOCKER_HOST.slice('unix://'.length),
    pkiDir: e.AUTHZ_PKI_DIR,
    usersSocketDir: e.AUTHZ_USERS_SOCKET_DIR,
    gatewaySocket: e.AUTHZ_GATEWAY_SOCKET,
    daemonTls: Object.freeze(e.AUTHZ_DAEMON_TLS_ADDRESS),
  });
}
