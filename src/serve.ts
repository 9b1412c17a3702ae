import type { Config } from './config/config.js';
import { createLogger, type PluginLog } from './log/logger.js';
import { startPolicyLifecycle, type PolicyLifecycle } from './policy/lifecycle.js';
import { createApp, type HealthReport } from './protocol/app.js';
import { createAuthzHandlers } from './protocol/authz.js';
import { pluginEndpoints } from './protocol/endpoints.js';
import { listen, type Limits, type Listening } from './protocol/server.js';
import { Greetings } from './state/greetings.js';
import { bumpReloadGeneration, loadLastGood, reloadGeneration, saveLastGood } from './state/policy-record.js';
import { StateStore } from './state/store.js';
import { VERSION } from './version.js';

export interface RunningPlugin {
  readonly listening: Listening;
  readonly log: PluginLog;
  readonly policy: PolicyLifecycle;
  readonly state: StateStore;
  health(): HealthReport;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly log?: PluginLog;
  readonly limits?: Partial<Limits>;
  /** How often workers look for each other's explicit reloads. */
  readonly peerPollMs?: number;
  readonly watchDebounceMs?: number;
  readonly stateRetryMs?: number;
}

/**
 * Starts the plugin. Nothing that can go wrong with the policy or the state stops it from serving:
 * a broken policy file serves the last good policy (or denies everything, saying why), and a state
 * database that cannot be used fails closed (nobody is greeted) until it can. Only a bad
 * configuration or a socket that cannot be bound stops the start.
 */
export async function startPlugin(config: Config, opts: StartOptions = {}): Promise<RunningPlugin> {
  const pluginLog = opts.log ?? createLogger(config.logLevel);
  const { log } = pluginLog;
  const state = new StateStore(
    config.stateDir,
    {
      onNote: (message) => log.warn(message),
      onError: (message) => log.error(message),
      onRecover: (message) => log.info(message),
    },
    opts.stateRetryMs,
  );
  const greetings = new Greetings(state);
  const policy = startPolicyLifecycle({
    file: config.policyFile,
    pluginName: config.pluginName,
    log,
    lastGood: { load: () => loadLastGood(state), save: (p) => saveLastGood(state, p) },
    peers: { generation: () => reloadGeneration(state), bump: () => bumpReloadGeneration(state) },
    ...(opts.peerPollMs !== undefined && { peerPollMs: opts.peerPollMs }),
    ...(opts.watchDebounceMs !== undefined && { watchDebounceMs: opts.watchDebounceMs }),
  });

  const health = (): HealthReport => {
    const p = policy.status();
    const s = state.health();
    const dropped = pluginLog.sink.dropped;
    return {
      status: p.state === 'file' && p.rejected === undefined && s.ok ? 'ok' : 'degraded',
      version: VERSION,
      plugin: config.pluginName,
      pid: process.pid,
      policy: p,
      state: s,
      log: { dropped },
    };
  };

  const onError = (err: unknown) => log.error({ err }, 'call failed; answered 500 (the daemon refuses the request)');
  const authz = createAuthzHandlers({ policy: policy.current, greetings, log: pluginLog });
  const app = createApp({
    pluginName: config.pluginName,
    banner: () =>
      `docker-authz ${VERSION}: Docker authorization plugin "${config.pluginName}" is running (policy: ${policy.status().source})`,
    health,
    reload: () => policy.reload('explicit'),
    onError,
  });
  let listening: Listening;
  try {
    listening = await listen(app, config.socket, {
      endpoints: pluginEndpoints(authz),
      onError,
      onWarning: (message, err) => log.error(err === undefined ? {} : { err }, message),
      ...(opts.limits && { limits: opts.limits }),
    });
  } catch (err) {
    policy.close();
    state.close();
    throw err;
  }
  const p = policy.status();
  log.info(
    {
      socket: config.socket,
      via: listening.via,
      plugin: config.pluginName,
      policy: p.source,
      serving: p.state,
      rules: p.rules,
      version: VERSION,
    },
    'listening',
  );
  return {
    listening,
    log: pluginLog,
    policy,
    state,
    health,
    stop: async () => {
      policy.close();
      await listening.close();
      state.close();
      log.info('stopped');
      await pluginLog.sink.drain(2000);
    },
  };
}
