/**
 * Bypass suite (see helpers/bypass.ts for the method), how a request is written: percent-encoded
 * paths, absolute-form targets, key case and Unicode folding, duplicate keys, legacy top-level
 * HostConfig fields, HostConfig on start, bodies too big to be shown to the plugin. Cases 1-8 follow
 * the bypass list of the issue (14, a retry with an empty body, cannot be sent through the daemon);
 * 2b/2c and 6c/6d are further spellings found while writing it.
 */
import type { Test } from 'tap';
import {
  B,
  CAPS_BEYOND_HOST,
  NEVER_STARTED,
  beyondHostComment,
  bypassSuite,
  createdContainer,
  describe,
  hasBind,
  hidden,
  hostBind,
  inspect,
  json,
  plainContainer,
  privilegedContainer,
  type BypassCase,
  type ContainerInspect,
  type Env,
} from './helpers/bypass.js';
import type { RawResponse } from './helpers/raw.js';

/** Legacy (API < 1.24) start with a HostConfig body: the daemon replaces the container's HostConfig. */
const startedWith =
  (check: (c: ContainerInspect) => boolean, what: string) =>
  async (t: Test, env: Env, res: RawResponse): Promise<void> => {
    const c = await inspect(env.d, env.fx.id!);
    if (res.status === 500 && CAPS_BEYOND_HOST.test(res.body)) {
      beyondHostComment(t, `${what} (the capabilities it implies)`);
    } else {
      if (!t.equal(res.status, 204, `the daemon started the container: ${describe(res)}`)) return;
      t.not(c.State.StartedAt, NEVER_STARTED, 'the container was started');
    }
    t.ok(check(c), `${what}: ${JSON.stringify({ HostConfig: c.HostConfig, Mounts: c.Mounts })}`);
  };

const neverStarted = async (t: Test, env: Env): Promise<void> => {
  const c = await inspect(env.d, env.fx.id!);
  t.equal(c.State.StartedAt, NEVER_STARTED, 'the container was not started');
  t.not(c.HostConfig.Privileged, true, 'and is not privileged');
  t.same(c.HostConfig.Binds ?? [], [], 'and has no binds');
};

const privileged = /^denied by rule no-privileged: --privileged \(HostConfig\.Privileged\)/;
const ambiguous = (what: RegExp) => new RegExp(`^denied by rule request-integrity: .*${what.source}`);
const big = (hostConfig: unknown) => JSON.stringify({ Image: B, Labels: { pad: 'x'.repeat(1_100_000) }, HostConfig: hostConfig });

const CASES: BypassCase[] = [
  {
    id: '1',
    name: 'percent-encoded path: POST /v1.41/%63ontainers/create, Privileged',
    note: "the router matches the decoded path; RequestUri keeps '%63'",
    request: () => json('/v1.41/%63ontainers/create', { Image: B, HostConfig: { Privileged: true } }),
    executed: privilegedContainer,
    refusal: privileged,
  },
  {
    id: '2a',
    name: 'absolute-form target: POST http://x/v1.41/containers/create, Binds /:/host',
    request: () => json('http://x/v1.41/containers/create', { Image: B, HostConfig: { Binds: ['/:/host'] } }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/:\/host \(HostConfig\.Binds\[0\]\)/,
  },
  {
    id: '2b',
    name: 'absolute-form target with an empty authority: POST http:///v1.41/containers/create, Privileged',
    note: 'Go takes the path after the empty authority; a WHATWG URL parser would take "v1.41" as the host',
    request: () => json('http:///v1.41/containers/create', { Image: B, HostConfig: { Privileged: true } }),
    executed: privilegedContainer,
    refusal: /^denied by rule (request-integrity|no-privileged): /,
  },
  {
    id: '2c',
    name: 'absolute-form target without authority: POST http:/v1.23/containers/{id}/start, {"Privileged":true}',
    note: 'Go reads "http:/v1.23/..." as the path /v1.23/...; a WHATWG URL parser would take "v1.23" as the host',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`http:/v1.23/containers/${fx.id}/start`, { Privileged: true }),
    executed: startedWith((c) => c.HostConfig.Privileged === true, 'the start made the container privileged'),
    refusal: /^denied by rule (request-integrity|api-version|no-privileged): /,
    untouched: neverStarted,
  },
  {
    id: '3',
    name: 'lower-case keys: {"image":..,"hostconfig":{"privileged":true}}',
    note: 'encoding/json matches keys case-insensitively',
    request: () => json('/v1.41/containers/create', `{"image":"${B}","hostconfig":{"privileged":true}}`),
    executed: privilegedContainer,
    refusal: privileged,
  },
  {
    id: '4',
    name: 'Unicode case folding: key "HoſtConfig" (U+017F) with Privileged true',
    note: 'Go 1.19 folds U+017F onto "s" when matching keys',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","Ho\u017ftConfig":{"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/Unicode case folding/),
  },
  {
    id: '5a',
    name: 'duplicate key, merged: {"HostConfig":{"Privileged":false},"HostConfig":{"Privileged":true}}',
    note: 'the second HostConfig is decoded into the same struct: Privileged ends up true',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":false},"HostConfig":{"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/HostConfig is given twice/),
  },
  {
    id: '5b',
    name: 'duplicate key, last wins: {"HostConfig":{"Privileged":false,"Privileged":true}}',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":false,"Privileged":true}}`),
    executed: privilegedContainer,
    refusal: ambiguous(/HostConfig\.Privileged is given twice/),
  },
  {
    id: '5c',
    name: 'duplicate key, last wins the other way: {"HostConfig":{"Privileged":true,"Privileged":false}}',
    note: 'harmless on 20.10 (the later false wins, the container is NOT privileged); refused as ambiguous all the same',
    request: () => json('/v1.41/containers/create', `{"Image":"${B}","HostConfig":{"Privileged":true,"Privileged":false}}`),
    executed: async (t, env, res) => {
      const c = await createdContainer(t, env.d, res);
      if (c) t.equal(c.HostConfig.Privileged, false, 'the daemon kept the LAST value: not privileged');
    },
    refusal: ambiguous(/HostConfig\.Privileged is given twice/),
  },
  {
    id: '6a',
    name: 'legacy top-level HostConfig fields: POST /v1.23/containers/create {"Binds":["/:/host"]}',
    note: 'ContainerConfigWrapper embeds HostConfig, so its fields are read from the top level too',
    request: () => json('/v1.23/containers/create', { Image: B, Binds: ['/:/host'] }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule (host-paths: -v \/:\/host \(Binds\[0\]\)|api-version: API version 1\.23)/,
  },
  {
    id: '6b',
    name: 'legacy top-level HostConfig fields: POST /v1.23/containers/create {"Privileged":true}',
    request: () => json('/v1.23/containers/create', { Image: B, Privileged: true }),
    executed: privilegedContainer,
    refusal: /^denied by rule (no-privileged: --privileged \(Privileged\)|api-version: API version 1\.23)/,
  },
  {
    id: '6c',
    name: 'top-level HostConfig fields on the current API: POST /v1.41/containers/create {"Privileged":true}',
    note: 'dockerd 20.10 does not tie the embedded HostConfig to old API versions',
    request: () => json('/v1.41/containers/create', { Image: B, Privileged: true }),
    executed: privilegedContainer,
    refusal: /^denied by rule no-privileged: --privileged \(Privileged\)/,
  },
  {
    id: '6d',
    name: 'top-level HostConfig fields on the current API: POST /v1.41/containers/create {"Binds":["/:/host"]}',
    request: () => json('/v1.41/containers/create', { Image: B, Binds: ['/:/host'] }),
    executed: hostBind('/', '/host'),
    refusal: /^denied by rule host-paths: -v \/:\/host \(Binds\[0\]\)/,
  },
  {
    id: '7a',
    name: 'HostConfig on start (API < 1.24): POST /v1.23/containers/{id}/start {"Privileged":true}',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`/v1.23/containers/${fx.id}/start`, { Privileged: true }),
    executed: startedWith((c) => c.HostConfig.Privileged === true, 'the start made the container privileged'),
    refusal: /^denied by rule (no-privileged: --privileged \(Privileged\)|api-version: API version 1\.23)/,
    untouched: neverStarted,
  },
  {
    id: '7b',
    name: 'HostConfig on start (API < 1.24): POST /v1.23/containers/{id}/start {"Binds":["/:/host"]}',
    setup: (d) => plainContainer(d, ['true']),
    request: ({ fx }) => json(`/v1.23/containers/${fx.id}/start`, { Binds: ['/:/host'] }),
    executed: startedWith((c) => hasBind(c, '/', '/host'), 'the start bind-mounted host / at /host'),
    refusal: /^denied by rule (host-paths: -v \/:\/host \(Binds\[0\]\)|api-version: API version 1\.23)/,
    untouched: neverStarted,
  },
  {
    id: '8a',
    name: 'oversized body (1.1 MB, Content-Length): privileged create',
    note: 'the daemon forwards no body of 1 MiB or more to the plugin, and executes it',
    request: () => json('/v1.41/containers/create', big({ Privileged: true })),
    executed: privilegedContainer,
    refusal: hidden,
  },
  {
    id: '8b',
    name: 'oversized body (1.1 MB, chunked): privileged create',
    request: () => json('/v1.41/containers/create', big({ Privileged: true }), { framing: 'chunked' }),
    executed: privilegedContainer,
    refusal: hidden,
  },
];

bypassSuite('how the request is written', CASES, (t) => {
  t.comment(
    '14. retry with an empty body: the daemon resends an AuthZReq with an empty body only when the plugin connection fails; a client cannot send it through the daemon (see test/integration/server.test.ts).',
  );
});
