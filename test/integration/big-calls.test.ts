/**
 * Big calls through the real plugin process (the bundle, node dist/cli.js serve): read and decoded
 * by a worker thread (src/protocol/decode-pool.ts), decided as a small call is, while small calls
 * go on being answered.
 */
import t from 'tap';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { envelope } from '../helpers/corpus.js';
import { unixRequest } from '../helpers/http.js';
import { spawnPlugin } from '../helpers/spawn-plugin.js';
import { makeTempDir } from '../helpers/tmp.js';
import { pollUntil } from '../helpers/wait.js';

const POLICY =
  'version: 1\nhello: { enabled: false }\nrules:\n  - { id: no-privileged, kind: privileged }\n  - { id: host-paths, kind: host-mounts, allowedPaths: [/srv] }\n';
const Env = Array.from({ length: 12_000 }, (_, i) => `BIG_${i}=0123456789abcdefghijklmnopqrstuvwxyz`);
const create = (hostConfig: object) =>
  JSON.stringify(envelope('POST', '/v1.41/containers/create', { Image: 'busybox', Env, HostConfig: hostConfig }));
const PS = JSON.stringify(envelope('GET', '/v1.41/containers/json'));

t.test('a big create is judged like a small one, and small calls are answered meanwhile', async (t) => {
  const dir = await makeTempDir('big-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  const p = await spawnPlugin({ socket: path.join(dir, 'p.sock'), stateDir: path.join(dir, 'state'), policyFile });
  t.teardown(() => p.stop());
  const ask = async (body: string) => {
    const r = await unixRequest(p.socket, 'POST', '/AuthZPlugin.AuthZReq', { body, timeoutMs: 60_000 });
    t.equal(r.status, 200);
    return r.json<{ Allow: boolean; Msg?: string }>();
  };
  const bigs = [
    create({ Privileged: true }),
    create({ Binds: ['/etc:/x'] }),
    create({ Binds: ['/srv/data:/x'] }),
    create({ Privileged: true, privileged: false }),
  ];
  t.ok(
    bigs.every((b) => Buffer.byteLength(b) > 256 * 1024),
    'big enough to be decoded off the main thread',
  );
  const [answers, small] = await Promise.all([Promise.all(bigs.map(ask)), Promise.all(Array.from({ length: 20 }, () => ask(PS)))]);
  t.same(answers, [
    { Allow: false, Msg: 'denied by rule no-privileged: --privileged (HostConfig.Privileged) gives the container full access to the host' },
    {
      Allow: false,
      Msg: 'denied by rule host-paths: -v /etc:/x (HostConfig.Binds[0]) mounts /etc from the host, outside the allowed host paths (/srv)',
    },
    { Allow: true },
    { Allow: false, Msg: 'denied by rule request-integrity: HostConfig.Privileged is given twice ("Privileged" and "privileged")' },
  ]);
  t.ok(
    small.every((a) => a.Allow),
    'every small call answered',
  );
  // Decision lines leave in batches: wait for the last.
  const creates = () =>
    p.records().filter((r) => (r as { msg?: string; op?: string }).msg === 'decision' && (r as { op?: string }).op === 'container.create');
  await pollUntil(() => creates().length >= 4, { timeoutMs: 10_000, what: 'the decision lines' });
  t.same(
    creates()
      .map((r) => (r as { rule?: string }).rule)
      .sort(),
    ['host-paths', 'no-privileged', 'request-integrity', undefined].sort(),
    'one decision line for each big call',
  );
});
