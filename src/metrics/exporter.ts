import { collectDefaultMetrics, Registry } from 'prom-client';
import type { PolicyStatus } from '../policy/lifecycle.js';
import { LATENCY_BUCKETS, splitKey } from './counts.js';

/** What a scrape reports besides the shared counters: the state of this worker right now. */
export interface LiveView {
  readonly version: string;
  readonly policy: PolicyStatus;
  readonly lastGoodAt: string | undefined;
  readonly stateUp: boolean;
  readonly greeted: number;
}

type Value = { labels?: Record<string, string | number>; value: number; metricName?: string };

// A metric object in prom-client's registry shape, whose values are computed at scrape time.
function family(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Value[]) {
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: async () => ({ name, help, type, values: values(), aggregator: 'sum' as const }),
    reset: () => undefined,
  };
}

/**
 * The Prometheus exposition: counters summed over every worker (from the state database plus what
 * this worker has not flushed yet), gauges of this worker's view, and process metrics.
 */
export interface Exporter {
  readonly contentType: string;
  /** The exposition text, totals read once. */
  scrape(): Promise<string>;
}

export function createExporter(totals: () => ReadonlyMap<string, number>, liveView: () => LiveView): Exporter {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let snapshot: ReadonlyMap<string, number> = new Map();
  let view: LiveView | undefined;
  const live = () => (view ??= liveView());
  const rows = (prefix: string) => [...snapshot].filter(([k]) => k === prefix || k.startsWith(`${prefix}\t`));
  const count = (key: string) => snapshot.get(key) ?? 0;

  const metrics = [
    family('docker_authz_decisions_total', 'AuthZReq decisions by operation, rule and outcome (allow, deny, audit).', 'counter', () =>
      rows('decision').map(([k, value]) => {
        const [, op = '', rule = '', decision = ''] = splitKey(k);
        return { labels: { op, rule, decision }, value };
      }),
    ),
    family('docker_authz_decision_duration_seconds', 'Time to decide an AuthZReq, from the call read to the answer.', 'histogram', () => {
      const out: Value[] = [];
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += count(`latency\t${i}`);
        out.push({ metricName: 'docker_authz_decision_duration_seconds_bucket', labels: { le }, value: cumulative });
      });
      cumulative += count(`latency\t${LATENCY_BUCKETS.length}`);
      out.push({ metricName: 'docker_authz_decision_duration_seconds_bucket', labels: { le: '+Inf' }, value: cumulative });
      out.push({ metricName: 'docker_authz_decision_duration_seconds_sum', value: count('latency_sum') });
      out.push({ metricName: 'docker_authz_decision_duration_seconds_count', value: cumulative });
      return out;
    }),
    family('docker_authz_log_lines_dropped_total', 'Log lines dropped because the log reader fell behind.', 'counter', () => [
      { value: count('log_dropped') },
    ]),
    family('docker_authz_policy_reloads_total', 'Policy reloads by result (ok, rejected) and trigger.', 'counter', () =>
      rows('reload').map(([k, value]) => {
        const [, result = '', trigger = ''] = splitKey(k);
        return { labels: { result, trigger }, value };
      }),
    ),
    family('docker_authz_greetings_total', 'Greetings recorded (identities that said hello).', 'counter', () => [
      { value: count('greetings') },
    ]),
    family('docker_authz_state_errors_total', 'State database operations that failed.', 'counter', () => [
      { value: count('state_errors') },
    ]),
    family(
      'docker_authz_policy_info',
      'The policy in force: where it came from (file, last-known-good, deny-all) and its hash.',
      'gauge',
      () => {
        const p = live().policy;
        return [{ labels: { state: p.state, sha256: p.sha256 ?? '', source: p.source }, value: 1 }];
      },
    ),
    family('docker_authz_policy_rejected', '1 when the policy file on disk was rejected at its last read.', 'gauge', () => [
      { value: live().policy.rejected ? 1 : 0 },
    ]),
    family('docker_authz_policy_last_good_timestamp_seconds', 'When the last good policy was saved.', 'gauge', () => {
      const at = live().lastGoodAt;
      return at ? [{ value: Date.parse(at) / 1000 }] : [];
    }),
    family('docker_authz_greeted_identities', 'Identities that have said hello.', 'gauge', () => [{ value: live().greeted }]),
    family('docker_authz_state_up', '1 when the state database can be used.', 'gauge', () => [{ value: live().stateUp ? 1 : 0 }]),
    family('docker_authz_build_info', 'The running version.', 'gauge', () => [{ labels: { version: live().version }, value: 1 }]),
  ];
  for (const m of metrics) registry.registerMetric(m as never);
  return {
    contentType: registry.contentType,
    scrape: async () => {
      snapshot = totals();
      view = undefined;
      return registry.metrics();
    },
  };
}
