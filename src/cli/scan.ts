import type { Config } from '../config/config.js';
import { socketOfDockerHost } from '../daemon/client.js';
import { isCodedError } from '../errors.js';
import { compilePolicy } from '../policy/compile.js';
import { formatIssue, loadPolicyFile } from '../policy/load.js';
import { formatScan } from '../scan/format.js';
import { runScan } from '../scan/scan.js';

export const SCAN_USAGE = `usage: docker-authz scan [--host unix:///var/run/docker.sock] [--policy FILE] [--json]

Lists the containers, volumes and networks that already exist and that the policy would refuse to
create, with what to do about each. Read-only. Exit status: 0 nothing found, 1 something found,
2 usage or policy error, 3 the daemon could not be read.

  --host URL     the daemon's socket (default: DOCKER_HOST, else unix:///var/run/docker.sock)
  --policy FILE  the policy to judge by (default: AUTHZ_POLICY, else the built-in policy)
  --json         the report as JSON`;

/** `docker-authz scan`: exit 0 when nothing is found, 1 when something is, 2 on usage errors, 3 when the daemon cannot be read. */
export async function scanCommand(config: Config, argv: string[]): Promise<number> {
  let host = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  let policyFile = config.policyFile;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${arg} needs a value`);
      return v;
    };
    try {
      if (arg === '--host' || arg === '-H') host = value();
      else if (arg === '--policy') policyFile = value();
      else if (arg === '--json') json = true;
      else if (arg === '--help' || arg === '-h') {
        console.log(SCAN_USAGE);
        return 0;
      } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`scan: ${err.message}\n\n${SCAN_USAGE}`);
      return 2;
    }
  }

  if (!socketOfDockerHost(host)) {
    console.error(`scan: ${host} is not a unix socket (unix:///path): scan reads the local daemon only`);
    return 2;
  }
  const loaded = loadPolicyFile(policyFile);
  if (!loaded.ok) {
    for (const issue of loaded.issues) console.error(formatIssue(issue));
    return 2;
  }
  const policy = compilePolicy(loaded.policy, loaded.source, config.pluginName);
  try {
    const report = await runScan({ dockerHost: host, policy });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatScan(report));
    return report.refused.length > 0 ? 1 : 0;
  } catch (err) {
    if (!isCodedError(err)) throw err;
    console.error(`scan: ${err.message}`);
    return 3;
  }
}

class UsageError extends Error {}
