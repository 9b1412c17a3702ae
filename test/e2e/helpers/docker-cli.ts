/** The real docker CLI against one daemon's socket, isolated from the host's docker configuration. */
import { run, type ExecResult } from '../../helpers/process.js';

export interface DockerOptions {
  /** Written to the CLI's stdin, which is then closed (stdin is always closed). */
  input?: string | Buffer;
  /** Kill the CLI and reject after this long. Default 60s. */
  timeoutMs?: number;
  /** Extra environment for the CLI (e.g. DOCKER_API_VERSION). */
  env?: Record<string, string>;
}

/** Environment for the docker CLI: no host config, context or DOCKER_HOST leaks in. */
function cliEnv(configDir: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DOCKER_') && !k.startsWith('BUILDX_')) env[k] = v;
  }
  env.DOCKER_CONFIG = configDir;
  env.DOCKER_CLI_HINTS = 'false';
  return { ...env, ...extra };
}

/** `docker -H unix://SOCKET ARGS...`. Resolves on any exit code; rejects only on timeout/spawn failure. */
export function runDockerCli(socket: string, configDir: string, args: string[], opts: DockerOptions = {}): Promise<ExecResult> {
  return run('docker', ['-H', `unix://${socket}`, ...args], {
    env: cliEnv(configDir, opts.env),
    input: opts.input,
    timeoutMs: opts.timeoutMs,
  });
}
