import { socketOfDockerHost } from '../daemon/client.js';
import { isCodedError } from '../errors.js';
import { compilePolicy } from '../policy/compile.js';
import { formatIssue, loadPolicyFile } from '../policy/load.js';
import { formatScan } from '../scan/format.js';
import { runScan, SCAN_TIMEOUT_MS } from '../scan/scan.js';
import { EXIT, UsageError, type Command } from './command.js';

/** `docker-authz scan`: exit 0 when nothing is found, 1 when something is, 2 on usage or policy errors, 3 when the daemon cannot be read. */
export const scanCommand: Command = {
  name: 'scan',
  summary: 'List existing containers, volumes and networks the policy would refuse to create, with what to do.',
  description:
    'Read-only. Run it before enabling the plugin (the installer does): once the plugin is in front, the daemon\n' +
    "asks it about scan's own calls too. Exit status: 0 nothing found, 1 something found, 2 usage or policy error,\n" +
    '3 the daemon could not be read.',
  options: {
    host: {
      type: 'string',
      short: 'H',
      valueName: 'URL',
      description: "the daemon's socket (default: AUTHZ_DOCKER_HOST, unix:///var/run/docker.sock)",
    },
    policy: { type: 'string', valueName: 'FILE', description: 'the policy to judge by (default: AUTHZ_POLICY, else the built-in policy)' },
    json: { type: 'boolean', description: 'the report as JSON' },
    timeout: {
      type: 'string',
      valueName: 'SECONDS',
      description: `how long to wait for each of the daemon's answers (default ${SCAN_TIMEOUT_MS / 1000})`,
    },
  },
  async run(ctx) {
    const config = ctx.config();
    const host = (ctx.values.host as string | undefined) ?? `unix://${config.dockerSocket}`;
    if (!socketOfDockerHost(host)) throw new UsageError(`${host} is not a unix socket (unix:///path): scan reads the local daemon only`);
    const timeout = ctx.values.timeout as string | undefined;
    const seconds = timeout === undefined ? SCAN_TIMEOUT_MS / 1000 : Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout must be a number of seconds above 0, not "${timeout}"`);
    const loaded = loadPolicyFile((ctx.values.policy as string | undefined) ?? config.policyFile);
    if (!loaded.ok) {
      for (const issue of loaded.issues) ctx.err(formatIssue(issue));
      return EXIT.USAGE;
    }
    const policy = compilePolicy(loaded.policy, loaded.source, config.pluginName);
    try {
      const report = await runScan({ dockerHost: host, policy, timeoutMs: Math.round(seconds * 1000) });
      ctx.out(ctx.values.json ? JSON.stringify(report, null, 2) : formatScan(report).replace(/\n$/, ''));
      return report.refused.length > 0 ? EXIT.FAILED : EXIT.OK;
    } catch (err) {
      if (!isCodedError(err)) throw err;
      ctx.err(`scan: ${err.message}`);
      if (/no answer within/.test(err.message)) {
        ctx.err(
          'scan: a busy daemon, or one retrying a dead plugin socket in /run/docker/plugins (it does when listing volumes), may need a longer --timeout',
        );
      }
      return EXIT.UNREACHABLE;
    }
  },
};
