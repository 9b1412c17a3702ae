import type { Config } from './config/config.js';
import { createLogger, type PluginLog } from './log/logger.js';
import { MetricsHub } from './metrics/hub.js';
import type { MetricsListener } from './metrics/listen.js';
import { startPolicyLifecycle, type PolicyLifecycle } from './policy/lifecycle.js';
import type { HealthReport } from './protocol/app.js';
import { createAuthzHandlers, SELF_HEADER } from './protocol/authz.js';
import { DecodePool } from './protocol/decode-pool.js';
import { pluginEndpoints } from './protocol/endpoints.js';
import { listen, type Limits, type Listening } from './protocol/server.js';
import { unixClient } from './daemon/client.js';
import { startMirror, type Mirror } from './daemon/mirror.js';
import { Greetings } from './state/greetings.js';
import { ObjectStore } from './state/objects.js';
import { selfToken } from './state/self-token.js';
import { noteProbe } from './state/probe.js';
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
  /** How often counted metrics go to the state database (shared by every worker). */
  readonly metricsFlushMs?: number;
  /** Keep object records in step with the daemon (default true); tests of other things turn it off. */
  readonly mirror?: boolean;
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
  const hub = new MetricsHub(state, () => pluginLog.sink.dropped, opts.metricsFlushMs);
  const { counts } = hub;
  const greetings = new Greetings(state);
  const objects = new ObjectStore(state);
  const policy = startPolicyLifecycle({
    file: config.policyFile,
    pluginName: config.pluginName,
    log,
    lastGood: { load: () => loadLastGood(state), save: (p) => saveLastGood(state, p) },
    peers: { generation: () => reloadGeneration(state), bump: () => bumpReloadGeneration(state) },
    ...(opts.peerPollMs !== undefined && { peerPollMs: opts.peerPollMs }),
    ...(opts.watchDebounceMs !== undefined && { watchDebounceMs: opts.watchDebounceMs }),
    onReload: (result, trigger) => counts.add(`reload\t${result}\t${trigger}`),
  });

  const health = (): HealthReport => {
    const p = policy.status();
    const s = state.health();
    return {
      status: p.state === 'file' && p.rejected === undefined && s.ok ? 'ok' : 'degraded',
      version: VERSION,
      plugin: config.pluginName,
      pid: process.pid,
      policy: p,
      state: s,
      log: { dropped: pluginLog.sink.dropped },
      objects: objects.notReady === undefined ? { synced: true } : { synced: false, why: objects.notReady },
      decisions: hub.decisions(),
      ...(metrics && { metrics: metrics.address }),
    };
  };

  const onError = (err: unknown) => log.error({ err }, 'call failed; answered 500 (the daemon refuses the request)');
  const token = selfToken(state);
  const authz = createAuthzHandlers({
    policy: policy.current,
    greetings,
    objects,
    selfToken: token,
    log: pluginLog,
    counts,
    onProbe: (nonce) => noteProbe(state, nonce),
  });
  // Made on the first call that is not the plugin protocol (see listen).
  const app = async () =>
    (await import('./protocol/app.js')).createApp({
      pluginName: config.pluginName,
      banner: () =>
        `docker-authz ${VERSION}: Docker authorization plugin "${config.pluginName}" is running (policy: ${policy.status().source})`,
      health,
      reload: () => policy.reload('explicit'),
      onError,
    });
  // Big calls are read and decoded off the main thread (workers start with the first one).
  const decodePool = new DecodePool({ onError: (message, err) => log.error(err === undefined ? {} : { err }, message) });
  let listening: Listening;
  let metrics: MetricsListener | undefined;
  try {
    listening = await listen(app, config.socket, {
      endpoints: pluginEndpoints(authz),
      decodePool,
      onError,
      onWarning: (message, err) => log.error(err === undefined ? {} : { err }, message),
      ...(opts.limits && { limits: opts.limits }),
    });
  } catch (err) {
    void decodePool.close();
    hub.close();
    policy.close();
    state.close();
    throw err;
  }
  if (config.metrics.kind !== 'off') {
    // prom-client is loaded only when metrics are served.
    const [{ createExporter }, { listenMetrics }] = await Promise.all([import('./metrics/exporter.js'), import('./metrics/listen.js')]);
    const exporter = createExporter(
      () => hub.totals(),
      () => ({
        version: VERSION,
        policy: policy.status(),
        lastGoodAt: loadLastGood(state)?.at,
        stateUp: state.health().ok,
        greeted: greetings.count(),
      }),
    );
    try {
      metrics = await listenMetrics(config.metrics, exporter);
    } catch (err) {
      // Metrics are for the operator; they never stop the plugin.
      log.error({ err: (err as Error).message }, 'cannot serve metrics; the plugin runs without them');
    }
  }
  // Whose each object is: records follow the daemon (its objects at start, then its events). The
  // plugin's own reads carry a secret so that it allows them.
  let mirror: Mirror | undefined;
  if (opts.mirror !== false) {
    const headers = { [SELF_HEADER]: token };
    // A daemon that is down says so once, not at every retry.
    const reported = new Set<string>();
    mirror = startMirror({
      socketPath: config.dockerSocket,
      reader: unixClient({ socketPath: config.dockerSocket, headers }),
      headers,
      objects,
      onError: (message) => {
        if (reported.has(message)) return;
        if (reported.size >= 100) reported.clear();
        reported.add(message);
        log.warn(message);
      },
      onSynced: () => {
        if (reported.size > 0) log.info("object records are in step with the daemon's objects again");
        reported.clear();
      },
    });
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
      ...(metrics && { metrics: metrics.address }),
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
      mirror?.close();
      policy.close();
      await Promise.all([listening.close(), metrics?.close()]);
      await decodePool.close();
      hub.close();
      state.close();
      log.info('stopped');
      await pluginLog.sink.drain(2000);
    },
  };
}
