import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { codes, codedError } from '../errors.js';

/** The installer's configuration file: the service, the pm2 app and the CLI all read it. */
export const DEFAULT_ENV_FILE = '/etc/docker-authz/authz.env';

/**
 * The environment with the env file's settings under it (the environment wins). The file is the
 * one AUTHZ_ENV_FILE names (empty: none), by default the installer's; never a `.env` in whatever
 * directory the command happens to run in. A missing default file is fine; a missing named one is
 * an error.
 */
export function withEnvFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const named = env.AUTHZ_ENV_FILE;
  const file = named ?? DEFAULT_ENV_FILE;
  if (file === '') return env;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (named === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return env;
    throw codedError(codes.CONFIG_INVALID, `cannot read the env file ${file} (AUTHZ_ENV_FILE): ${(err as Error).message}`, err);
  }
  return { ...parse(text), ...env };
}
