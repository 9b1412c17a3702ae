/**
 * Bypass suite (see helpers/bypass.ts for the method), what the plugin is not shown: bodies behind
 * a non-JSON, Unicode or repeated Content-Type (9a-9f), query pairs Go drops (15), and a Dockerfile
 * that fetches a URL from inside the build context (18, a known limit).
 */
import { readlinkSync } from 'node:fs';
import type { Test } from 'tap';
import { B, FORM_TYPE, api, bypassSuite, describe, hidden, json, messageOf, type BypassCase, type Env } from './helpers/bypass.js';
import type { Dockerd } from './helpers/dockerd.js';
import { rawRequest, sendRaw, type RawRequestSpec, type RawResponse } from './helpers/raw.js';

/** The network namespace a build's RUN step printed (`ls -l /proc/self/ns/net`). */
function netnsOfBuild(res: RawResponse): string | undefined {
  return /net:\[\d+\]/.exec(res.body)?.[0];
}

/** The network namespace the RUN step of the build tagged `image` recorded in /netns. */
async function netnsOfImage(d: Dockerd, image: string): Promise<string | undefined> {
  const { Id } = await api<{ Id: string }>(d, 'POST', '/v1.41/containers/create', { Image: image, Cmd: ['cat', '/netns'] });
  await api(d, 'POST', `/v1.41/containers/${Id}/start`);
  await api(d, 'POST', `/v1.41/containers/${Id}/wait`);
  const logs = await d.request('GET', `/v1.41/containers/${Id}/logs?stdout=1`);
  return /net:\[\d+\]/.exec(logs.body)?.[0];
}

/** images/create with a form body: the daemon imports from the URL in the body, i.e. fetches it. */
const formImport =
  (contentTypes: string[]) =>
  (env: Env): RawRequestSpec => ({
    method: 'POST',
    target: '/v1.41/images/create',
    headers: contentTypes.map((v) => ['Content-Type', v] as const),
    body: new URLSearchParams({ fromSrc: env.assets.fetches.url(env.token), repo: 'e2e/formproof' }).toString(),
  });

const fetchedUrl = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  t.ok(
    env.assets.fetches.fetched(env.token),
    `the daemon fetched ${env.assets.fetches.url(env.token)}, named only in the body (${describe(res)})`,
  );
  t.match(messageOf(res), `failed to GET ${env.assets.fetches.url(env.token)}`, 'and reports that URL');
};

const notFetched = async (t: Test, env: Env): Promise<void> => {
  t.notOk(env.assets.fetches.fetched(env.token), 'the daemon fetched nothing');
};

/** A classic build whose RUN step runs in the daemon's (the host's) network namespace. */
const hostNetworkBuild = async (t: Test, env: Env, res: RawResponse): Promise<void> => {
  const hostNetns = readlinkSync(`/proc/${env.d.pid}/ns/net`);
  t.equal(res.status, 200, 'the build ran');
  t.equal(netnsOfBuild(res), hostNetns, `the RUN step ran in the host's network namespace ${hostNetns}: ${res.body.slice(-600)}`);
};

const buildRequest =
  (query: string) =>
  (env: Env): RawRequestSpec => ({
    method: 'POST',
    target: `/v1.41/build?${query}&nocache=1&rm=1&forcerm=1`,
    headers: [['Content-Type', 'application/x-tar']],
    body: env.assets.netnsContext,
  });

/** A build context whose Dockerfile ADDs a URL only the host can reach and prints it. */
function addFetchContext(env: Env): Buffer {
  const dockerfile = `FROM ${B}\nADD ${env.assets.fetches.secretUrl(env.token)} /secret\nRUN cat /secret\n`;
  return tarOf({ Dockerfile: dockerfile });
}

/** A minimal ustar archive of regular files. */
function tarOf(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const CASES: BypassCase[] = [
  {
    id: '9a',
    name: 'non-JSON content type: Content-Type text/plain on containers/create',
    note: 'NOT a route: containers/create calls CheckForJSON and answers 400 before reading the body',
    route: false,
    request: () => ({
      ...json('/v1.41/containers/create', { Image: B, HostConfig: { Privileged: true } }),
      headers: [['Content-Type', 'text/plain']],
    }),
    executed: async (t, _env, res) => {
      t.equal(res.status, 400, `the daemon refuses it: ${describe(res)}`);
      t.match(messageOf(res), "Content-Type specified (text/plain) must be 'application/json'");
    },
    refusal: hidden,
  },
  {
    id: '9b',
    name: 'form-encoded body on images/create: fromSrc=<url> in an application/x-www-form-urlencoded body',
    note: 'r.ParseForm reads form bodies; the plugin never sees them (not JSON)',
    request: formImport([FORM_TYPE]),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: form-encoded request bodies/,
    untouched: notFetched,
  },
  {
    id: '9c',
    name: 'form body behind a Unicode content type: Content-Type applİcation/x-www-form-urlencoded (U+0130)',
    note: "Go's mime.ParseMediaType lower-cases with strings.ToLower, which maps U+0130 to 'i'",
    request: formImport([FORM_TYPE.replace('i', '\u0130')]),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: /,
    untouched: notFetched,
  },
  {
    id: '9d',
    name: 'form body behind a repeated header: Content-Type form, then Content-Type application/json',
    note: "Go's r.Header.Get uses the FIRST value; the daemon forwards only the LAST one in RequestHeaders",
    request: formImport([FORM_TYPE, 'application/json']),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: /,
    untouched: notFetched,
  },
  {
    id: '9e',
    name: 'form body on a build behind a repeated header: Content-Type form, then application/x-tar',
    note:
      "the build handler's r.FormValue parses the body as a form (first Content-Type) once the handler has " +
      'peeked its first 4 KiB as the context; the plugin sees only "application/x-tar", normal for a build',
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/build',
      headers: [
        ['Content-Type', FORM_TYPE],
        ['Content-Type', 'application/x-tar'],
      ],
      body: `pad=${'x'.repeat(16 * 1024)}&${new URLSearchParams({ remote: env.assets.fetches.contextUrl(env.token), networkmode: 'host', nocache: '1', t: 'e2e/formbuild' })}`,
    }),
    executed: async (t, env, res) => {
      t.ok(env.assets.fetches.fetched(env.token), `the daemon fetched the remote build context named only in the body (${describe(res)})`);
      // Without the authz middleware this handler loses its output (it waits for the body's EOF), so
      // the RUN step's record is read back from the image the build tagged.
      const hostNetns = readlinkSync(`/proc/${env.d.pid}/ns/net`);
      t.equal(await netnsOfImage(env.d, 'e2e/formbuild'), hostNetns, `the RUN step ran in the host's network namespace ${hostNetns}`);
    },
    refusal: /^denied by rule /,
    untouched: notFetched,
    knownLimit:
      'the daemon forwards only the last of repeated headers; the plugin is shown "application/x-tar" with no body, ' +
      'exactly what every build sends, while the handler reads the form. See docs/routes.md, Known limits.',
  },
  {
    id: '9f',
    name: 'form body behind a repeated header on a pull: ?fromImage=hello-world, Content-Type form then text/plain',
    note: "r.Form puts body values first: the daemon imports fromSrc from the body instead of pulling the query's image",
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/images/create?fromImage=hello-world&tag=latest',
      headers: [
        ['Content-Type', FORM_TYPE],
        ['Content-Type', 'text/plain'],
      ],
      body: new URLSearchParams({ fromImage: '', fromSrc: env.assets.fetches.url(env.token), repo: 'e2e/formproof' }).toString(),
    }),
    executed: fetchedUrl,
    refusal: /^denied by rule request-integrity: an image pull must not carry a body/,
    untouched: notFetched,
  },
  {
    id: '15a',
    name: 'build with a decoy query pair: POST /v1.41/build?networkmode=%zz&networkmode=host',
    note: "the build handler reads r.FormValue, which drops a pair Go cannot unescape ('%zz') and ignores the error",
    request: buildRequest('networkmode=%zz&networkmode=host'),
    executed: async (t, env, res) => {
      await hostNetworkBuild(t, env, res);
      // Control: the same build without networkmode runs elsewhere, so the proof above means something.
      const plain = await sendRaw(env.d.socket, rawRequest(buildRequest('t=e2e/control')(env)));
      t.not(netnsOfBuild(plain), readlinkSync(`/proc/${env.d.pid}/ns/net`), 'a default build step runs in another network namespace');
    },
    refusal: /^denied by rule (host-namespaces|request-integrity): /,
  },
  {
    id: '15b',
    name: 'build with a decoy query pair: POST /v1.41/build?networkmode=x;y&networkmode=host',
    note: "Go drops a query pair containing ';' (and r.FormValue ignores the error)",
    request: buildRequest('networkmode=x;y&networkmode=host'),
    executed: hostNetworkBuild,
    refusal: /^denied by rule (host-namespaces|request-integrity): /,
  },
  {
    id: '18',
    name: 'build whose Dockerfile fetches a URL on the host: ADD http://127.0.0.1:<port>/<token>.secret',
    note: 'the Dockerfile is inside the build context, a tar the daemon never shows to plugins',
    request: (env) => ({
      method: 'POST',
      target: '/v1.41/build?t=e2e/addfetch&nocache=1&rm=1&forcerm=1',
      headers: [['Content-Type', 'application/x-tar']],
      body: addFetchContext(env),
    }),
    executed: async (t, env, res) => {
      t.ok(env.assets.fetches.fetched(env.token), `the daemon fetched ${env.assets.fetches.secretUrl(env.token)} (${describe(res)})`);
      t.match(res.body, 'a secret served only on the host', 'and the build read what only the host could');
    },
    refusal: /^denied by rule /,
    knownLimit:
      'the build context (with its Dockerfile) is a tar the daemon never shows to authorization plugins; restrict image.build ' +
      'to trusted callers. See docs/routes.md, Known limits.',
  },
];

bypassSuite('what the plugin is not shown', CASES);
