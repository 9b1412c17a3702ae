import type { Config } from './config/config.js';
import { createLogger, type Logger } from './log/logger.js';
import { compilePolicy, type CompiledPolicy } from './policy/compile.js';
import { formatIssue, loadPolicyFile } from './policy/load.js';
import { watchPolicyFile } from './policy/watch.js';
import { createApp, type ReloadOutcome } from './protocol/app.js';
import { createAuthzHandlers } from './protocol/authz.js';
import { listen, type Listening } from './protocol/server.js';
import { openHelloStore } from './state/hello-store.js';

export interface RunningPlugin {
  readonly listening: Listening;
  readonly log: Logger;
  reload(): Promise<ReloadOutcome>;
  stop(): Promise<void>;
}

function readPolicy(config: Config): { ok: true; policy: CompiledPolicy } | { ok: false; errors: string[] } {
  const loaded = loadPolicyFile(config.policyFile);
  if (!loaded.ok) return { ok: false, errors: loaded.issues.map(formatIssue) };
  return { ok: true, policy: compilePolicy(loaded.policy, loaded.source, config.pluginName) };
}

/**
 * Starts the plugin: everything that can fail (config, policy, state) is checked before the socket
 * exists, so the daemon never meets a half-started plugin.
 */
export async function startPlugin(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningPlugin> {
  const first = readPolicy(config);
  if (!first.ok) throw new Error(`policy rejected:\n${first.errors.join('\n')}`);
  let policy = first.policy;
  const { store, warning } = openHelloStore(config.stateDir);
  if (warning) log.warn(warning);

  // A reload swaps the compiled policy in one assignment; an invalid file leaves the old one in force.
  const reload = async (): Promise<ReloadOutcome> => {
    const next = readPolicy(config);
    if (!next.ok) {
      log.error({ errors: next.errors }, 'policy reload rejected; the previous policy stays in force');
      return { ok: false, source: policy.source, errors: next.errors };
    }
    policy = next.policy;
    log.info({ policy: policy.source, rules: policy.rules.length }, 'policy reloaded');
    return { ok: true, source: policy.source };
  };

  const deps = { pluginName: config.pluginName, policy: () => policy, greetings: store, log, reload };
  const authz = createAuthzHandlers(deps);
  const listening = await listen(createApp(deps, authz), config.socket, {
    fast: { '/AuthZPlugin.AuthZReq': authz.request, '/AuthZPlugin.AuthZRes': authz.response },
    onError: (err) => log.error({ err }, 'AuthZ call failed; answered 500 (the daemon refuses the request)'),
  });
  // A changed policy file is reloaded like SIGHUP (the built-in default policy is not watched).
  const watcher =
    config.policyFile === undefined
      ? undefined
      : watchPolicyFile(config.policyFile, () => void reload(), { onError: (err) => log.warn({ err }, 'policy watch') });
  log.info(
    { socket: config.socket, via: listening.via, plugin: config.pluginName, policy: policy.source, rules: policy.rules.length },
    'listening',
  );
  return {
    listening,
    log,
    reload,
    stop: async () => {
      watcher?.close();
      await listening.close();
      log.info('stopped');
      log.flush();
    },
  };
}
