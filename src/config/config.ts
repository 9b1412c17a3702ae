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
});

export interface Config {
  readonly socket: string;
  /** The name dockerd knows the plugin by: the socket's basename without `.sock`. */
  readonly pluginName: string;
  readonly policyFile: string | undefined;
  readonly stateDir: string;
  readonly logLevel: z.infer<typeof envSchema>['AUTHZ_LOG_LEVEL'];
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
  });
}
