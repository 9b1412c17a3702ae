import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { unixRequest } from '../helpers/http.js';
import { envelope } from '../helpers/corpus.js';
import { startInProcess, stopInProcess } from '../helpers/plugin-process.js';

const scrape = (socketPath: string) => unixRequest(socketPath, 'GET', '/metrics');

// Unix socket paths must stay short (108 bytes): not under tap's fixtures directory.
function shortDir(t: Test): string {
  const dir = mkdtempSync('/tmp/mt-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

t.test('metrics on a unix socket: decisions by op, rule and outcome, latency, policy, state, process', async (t) => {
  const dir = shortDir(t);
  writeFileSync(
    `${dir}/audit.yaml`,
    'version: 1\nhello: {enabled: false}\nrules:\n  - {id: no-ps, kind: operations, operations: [container.list], mode: audit}\n  - {id: no-images, kind: operations, operations: [image.list]}\n',
  );
  const metricsSock = `${dir}/metrics.sock`;
  const p = await startInProcess({ AUTHZ_METRICS: `unix:${metricsSock}`, AUTHZ_POLICY: `${dir}/audit.yaml` }, { metricsFlushMs: 50 });
  t.teardown(() => stopInProcess(p));
  const ask = (method: string, uri: string) =>
    unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: JSON.stringify(envelope(method, uri)) });
  for (let i = 0; i < 3; i++) await ask('GET', '/v1.41/containers/json');
  await ask('GET', '/v1.41/images/json');
  await ask('GET', '/v1.41/version');

  const m = await scrape(metricsSock);
  t.equal(m.status, 200);
  t.match(String(m.headers['content-type']), /text\/plain; version=0\.0\.4/);
  t.equal(
    value(m.body, 'docker_authz_decisions_total{op="container.list",rule="no-ps",decision="audit"}'),
    3,
    'audited decisions are counted as audit',
  );
  t.equal(value(m.body, 'docker_authz_decisions_total{op="image.list",rule="no-images",decision="deny"}'), 1);
  t.equal(value(m.body, 'docker_authz_decisions_total{op="system.version",rule="",decision="allow"}'), 1);
  t.equal(value(m.body, 'docker_authz_decision_duration_seconds_count'), 5);
  t.equal(value(m.body, 'docker_authz_decision_duration_seconds_bucket{le="+Inf"}'), 5);
  t.match(m.body, /docker_authz_policy_info\{state="file",sha256="[0-9a-f]{64}",source="[^"]+audit\.yaml"\} 1/);
  t.match(m.body, /docker_authz_state_up 1/);
  t.match(m.body, /docker_authz_log_lines_dropped_total 0/);
  t.match(m.body, /docker_authz_build_info\{version="\d+\.\d+\.\d+"\} 1/);
  t.match(m.body, /^process_cpu_seconds_total /m, 'process metrics');

  const h = (await unixRequest(p.socket, 'GET', '/health')).json<{ decisions: Record<string, number>; metrics: string }>();
  t.same(h.decisions, { allow: 1, deny: 1, audit: 3 }, '/health counts decisions too');
  t.equal(h.metrics, `unix:${metricsSock}`);
});

t.test('counters are summed over workers through the state database', async (t) => {
  const dir = shortDir(t);
  const env = { AUTHZ_STATE_DIR: `${dir}/state`, AUTHZ_METRICS: `unix:${dir}/m1.sock` };
  const a = await startInProcess(env, { metricsFlushMs: 20 });
  const b = await startInProcess({ ...env, AUTHZ_METRICS: `unix:${dir}/m2.sock` }, { metricsFlushMs: 20 });
  t.teardown(async () => {
    await stopInProcess(a);
    await stopInProcess(b);
  });
  const ping = JSON.stringify(envelope('HEAD', '/_ping'));
  for (let i = 0; i < 4; i++) await unixRequest(a.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: ping });
  for (let i = 0; i < 6; i++) await unixRequest(b.socket, 'POST', '/AuthZPlugin.AuthZReq', { body: ping });
  const series = 'docker_authz_decisions_total{op="system.ping",rule="",decision="allow"}';
  let seen: number | undefined;
  for (let tries = 0; tries < 200 && seen !== 10; tries++) {
    seen = value((await scrape(`${dir}/m1.sock`)).body, series);
    if (seen !== 10) await new Promise((r) => setTimeout(r, 25));
  }
  t.equal(seen, 10, 'a scrape of one worker reports both workers’ decisions');
});

t.test('a metrics address that is not loopback is a configuration error', async (t) => {
  const { loadConfig } = await import('../../src/config/config.js');
  t.throws(() => loadConfig({ AUTHZ_METRICS: 'tcp:0.0.0.0:9323' }), { code: 'AUTHZ_CONFIG_INVALID', message: /loopback only/ });
  t.throws(() => loadConfig({ AUTHZ_METRICS: 'unix:relative.sock' }), { message: /absolute/ });
  t.match(loadConfig({ AUTHZ_METRICS: 'tcp:127.0.0.1:9323' }).metrics, { kind: 'tcp', host: '127.0.0.1', port: 9323 });
  t.match(loadConfig({}).metrics, { kind: 'off' }, 'off by default');
});
