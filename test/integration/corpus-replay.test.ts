import t from 'tap';
import { Agent } from 'node:http';
import { unixRequest } from '../helpers/http.js';
import { loadCorpus } from '../helpers/corpus.js';
import { startInProcess, stopInProcess } from '../helpers/plugin-process.js';

// Replays every captured daemon call, byte for byte, over a real unix socket and keep-alive
// connections, in the order the daemon sent them.
t.test('the real corpus, replayed in order against the default policy', async (t) => {
  const p = await startInProcess();
  t.teardown(() => stopInProcess(p));
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  t.teardown(() => agent.destroy());
  const post = (path: string, payload: unknown) =>
    unixRequest(p.socket, 'POST', path, {
      body: payload === null ? '' : `${JSON.stringify(payload)}\n`,
      agent,
      headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' },
    });

  const activate = await post('/Plugin.Activate', null);
  t.equal(activate.status, 200);
  t.same(activate.json(), { Implements: ['authz'] });

  // Before hello: only ping and version get through.
  const ps = (await import('../helpers/corpus.js')).corpusRequests('05-ps', 'containers/json')[0]!;
  t.same((await post('/AuthZPlugin.AuthZReq', ps)).json(), {
    Allow: false,
    Msg: 'denied by rule hello: You must say hello first: run "docker run hello-world"',
  });

  // Say hello the way the daemon reports it: AuthZReq then AuthZRes with 201 for a hello-world create.
  const helloBody = Buffer.from(JSON.stringify({ Image: 'hello-world', HostConfig: {} }) + '\n');
  const hello = {
    RequestMethod: 'POST',
    RequestUri: '/v1.41/containers/create',
    RequestBody: helloBody.toString('base64'),
    RequestHeaders: { 'Content-Length': String(helloBody.length), 'Content-Type': 'application/json' },
  };
  t.same((await post('/AuthZPlugin.AuthZReq', hello)).json(), { Allow: true });
  t.same((await post('/AuthZPlugin.AuthZRes', { ...hello, ResponseStatusCode: 201 })).json(), { Allow: true });
  t.same((await post('/AuthZPlugin.AuthZReq', ps)).json(), { Allow: true }, 'through the gate');

  const expectDenied: Record<string, string> = {
    '19': 'host-paths',
    '20': 'host-paths',
    '21': 'no-privileged',
    '22': 'capabilities',
    '23': 'devices',
    '24': 'host-namespaces',
    '25': 'host-namespaces',
    '26': 'host-namespaces',
    '27': 'security-options',
  };
  for (const entry of loadCorpus()) {
    const prefix = entry.file.split('-')[0]!;
    for (const c of entry.requests) {
      if (c.endpoint === 'Plugin.Activate') continue;
      const res = await post(`/AuthZPlugin.${c.endpoint}`, c.payload);
      t.equal(res.status, 200, `${entry.file} ${c.endpoint} status`);
      const body = res.json<{ Allow: boolean; Msg?: string }>();
      const uri = String(c.payload?.RequestUri ?? '');
      const deniedRule = expectDenied[prefix];
      if (c.endpoint === 'AuthZReq' && deniedRule && uri.includes('containers/create')) {
        t.equal(body.Allow, false, `${entry.file}: ${uri} denied`);
        t.match(body.Msg, new RegExp(`^denied by rule ${deniedRule}: `));
      } else if (c.endpoint === 'AuthZReq' && uri.startsWith('/v1.11/')) {
        t.match(
          body,
          { Allow: false, Msg: /^denied by rule api-version: API version 1\.11 is older than 1\.24/ },
          `${entry.file}: old API version`,
        );
      } else if (c.endpoint === 'AuthZReq' && c.payload?.User === 'alice' && !uri.endsWith('/version') && !uri.startsWith('/_ping')) {
        t.match(body, { Allow: false, Msg: /say hello first/ }, `${entry.file}: TLS user alice has her own gate`);
      } else if (
        c.endpoint === 'AuthZReq' &&
        (prefix === '62' || prefix === '59' || prefix === '60' || prefix === '61' || prefix === '03')
      ) {
        t.ok(typeof body.Allow === 'boolean', `${entry.file}: ${uri} answered`);
      } else {
        t.equal(body.Allow, true, `${entry.file}: ${c.endpoint} ${String(c.payload?.RequestMethod)} ${uri} ${body.Msg ?? ''}`);
      }
    }
  }

  const decisions = p.logs.filter((l) => l.msg === 'decision');
  t.ok(decisions.length > 100, 'one log line per AuthZReq decision');
  const all = JSON.stringify(p.logs);
  t.notMatch(all, /s3cret|SECRET_TOKEN|abc123|capauser/, 'no password, Env value or login body reaches the log');
  t.notMatch(all, /filters=|fromImage=/, 'no query strings in the log');
  t.match(
    decisions.find((d) => d.rule === 'host-paths'),
    {
      identity: '@anonymous',
      method: 'POST',
      path: '/containers/create',
      op: 'container.create',
      allow: false,
      reason: /HostConfig\.Binds\[0\]/,
    },
  );
});
