import { basename, isAbsolute } from 'node:path';
import { codes, codedError } from '../errors.js';

// Defaults live here and nowhere else; the result is validated once and frozen. Checked by hand
// rather than with a schema library: the plugin reads this at every start, and loading one
// costs more than the rest of the start together.

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** A check on a value: the message when it fails. */
type Check = readonly [(value: string) => boolean, string];

const absolute: Check = [isAbsolute, 'must be an absolute path'];
const socketLength: Check = [(p) => Buffer.byteLength(p) < 108, 'must be shorter than 108 bytes (unix socket limit)'];

/**
 * Each variable: its default, the checks it must pass (all of them are reported), and how it is
 * read once it has passed them (a string when it cannot be read: the message).
 */
interface Variable<T> {
  readonly default?: string;
  readonly checks?: readonly Check[];
  readonly read: (value: string | undefined) => T | { readonly invalid: string };
}

const variable = <T>(v: Variable<T>): Variable<T> => v;
const text = (value: string | undefined): string => value!;

const VARIABLES = {
  AUTHZ_SOCKET: variable({
    default: '/run/docker/plugins/authz.sock',
    checks: [absolute, [(p) => p.endsWith('.sock'), 'must end in .sock (docker names the plugin after the file)'], socketLength],
    read: text,
  }),
  AUTHZ_POLICY: variable({ read: (p) => (p === '' ? undefined : p) }),
  AUTHZ_STATE_DIR: variable({ default: '/var/lib/docker-authz', checks: [absolute], read: text }),
  AUTHZ_LOG_LEVEL: variable({
    default: 'info',
    read: (v): LogLevel | { invalid: string } =>
      (LOG_LEVELS as readonly string[]).includes(v!)
        ? (v as LogLevel)
        : { invalid: `Invalid option: expected one of ${LOG_LEVELS.map((l) => `"${l}"`).join('|')}` },
  }),
  AUTHZ_METRICS: variable({
    default: 'off',
    read: (v) => {
      const listen = parseMetricsListen(v!);
      return typeof listen === 'string' ? { invalid: listen } : listen;
    },
  }),
  AUTHZ_DOCKER_HOST: variable({
    default: 'unix:///var/run/docker.sock',
    checks: [[(h) => h.startsWith('unix:///'), 'must be unix:///path/to/docker.sock (the daemon the plugin serves)']],
    read: text,
  }),
  // The user gateway (docker-authz gateway, docker-authz users).
  AUTHZ_PKI_DIR: variable({ default: '/etc/docker-authz/pki', checks: [absolute], read: text }),
  AUTHZ_USERS_SOCKET_DIR: variable({
    default: '/run/docker-authz/users',
    checks: [
      absolute,
      // NAME.sock with a 32-character user name must stay under the 108-byte unix socket limit.
      [(p) => Buffer.byteLength(p) <= 108 - 40, 'must be at most 68 bytes (unix socket limit, with room for NAME.sock)'],
    ],
    read: text,
  }),
  AUTHZ_GATEWAY_SOCKET: variable({ default: '/run/docker-authz/gateway.sock', checks: [absolute, socketLength], read: text }),
  AUTHZ_DAEMON_TLS_ADDRESS: variable({
    default: '127.0.0.1:2376',
    read: (a) => {
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(a!);
      const port = Number(m?.[3]);
      if (!m || port < 1 || port > 65535) return { invalid: 'must be HOST:PORT, e.g. 127.0.0.1:2376 or [::1]:2376' };
      return { host: (m[1] ?? m[2])!, port };
    },
  }),
};

type Values = { -readonly [K in keyof typeof VARIABLES]: Exclude<ReturnType<(typeof VARIABLES)[K]['read']>, { readonly invalid: string }> };

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
  readonly logLevel: LogLevel;
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
  const problems: string[] = [];
  const e: Partial<Record<string, unknown>> = {};
  for (const [name, v] of Object.entries(VARIABLES) as [string, Variable<unknown>][]) {
    const raw = env[name] ?? v.default;
    const failed = raw === undefined ? [] : (v.checks ?? []).filter(([ok]) => !ok(raw));
    for (const [, message] of failed) problems.push(`${name}: ${message}`);
    if (failed.length > 0) continue;
    const value = v.read(raw);
    if (typeof value === 'object' && value !== null && 'invalid' in value) problems.push(`${name}: ${value.invalid}`);
    else e[name] = value;
  }
  if (problems.length > 0) throw codedError(codes.CONFIG_INVALID, `invalid configuration:\n  ${problems.join('\n  ')}`);
  const ok = e as Values;
  return Object.freeze({
    socket: ok.AUTHZ_SOCKET,
    pluginName: basename(ok.AUTHZ_SOCKET, '.sock'),
    policyFile: ok.AUTHZ_POLICY,
    stateDir: ok.AUTHZ_STATE_DIR,
    logLevel: ok.AUTHZ_LOG_LEVEL,
    metrics: ok.AUTHZ_METRICS,
    dockerSocket: ok.AUTHZ_DOCKER_HOST.slice('unix://'.length),
    pkiDir: ok.AUTHZ_PKI_DIR,
    usersSocketDir: ok.AUTHZ_USERS_SOCKET_DIR,
    gatewaySocket: ok.AUTHZ_GATEWAY_SOCKET,
    daemonTls: Object.freeze(ok.AUTHZ_DAEMON_TLS_ADDRESS),
  });
}
