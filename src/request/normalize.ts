import { codes, codedError, isCodedError, type ErrorCode } from '../errors.js';
import { header, untrustedBody, viewBody, type BodyView, type Headers } from './body.js';
import {
  authConfigShape,
  containerCreateShape,
  containerUpdateShape,
  execCreateShape,
  hostConfigShape,
  networkConnectShape,
  networkCreateShape,
  networkDisconnectShape,
  ulimitsShape,
  volumeCreateShape,
} from './docker-shapes.js';
import { decodeValue } from './go-decode.js';
import { parseJson } from './json-parse.js';
import { loginRegistry } from './registry-address.js';
import { matchRoute } from './routes.js';
import { serviceView } from './service-spec.js';
import type {
  AuthzEnvelope,
  DockerRequest,
  EndpointFields,
  EndpointView,
  HostConfigFields,
  Identity,
  NetworkCreateFields,
  Subject,
  UlimitFields,
} from './types.js';
import { isGoCleanQuery, parseRequestUri } from './uri.js';

export type Normalized =
  | { readonly ok: true; readonly request: DockerRequest }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      /** As far as it was read before the failure. */
      readonly identity?: Identity;
      readonly op?: string;
      readonly path?: string;
    };

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

interface BodyRule {
  /** false: an absent body is legitimate when the client declared Content-Length: 0. */
  readonly required: boolean;
  readonly subject: (body: BodyView) => Subject;
}

const NONE: Subject = { kind: 'none' };

function jsonBody(body: BodyView) {
  if (body.kind !== 'json') throw codedError(codes.BODY_NOT_VISIBLE, 'unreachable');
  return body.json;
}

function serviceSubject(body: BodyView): Subject {
  const { image, view } = serviceView(jsonBody(body));
  return { kind: 'container', image, views: [view] };
}

// Operations whose body changes what the daemon does to the host, and how to read it.
const BODY_RULES: Readonly<Record<string, BodyRule>> = {
  'container.create': {
    required: true,
    subject: (body) => {
      const top = jsonBody(body).decode(containerCreateShape);
      const inner = top.HostConfig as HostConfigFields | undefined;
      // Old clients put HostConfig fields at the top level; judge both places.
      const views = [{ prefix: '', hc: top as HostConfigFields }];
      if (inner) views.push({ prefix: 'HostConfig.', hc: inner });
      const networking = top.NetworkingConfig as { EndpointsConfig?: Map<string, EndpointFields | undefined> } | undefined;
      const endpoints: EndpointView[] = [];
      const networks: string[] = [];
      for (const [name, endpoint] of networking?.EndpointsConfig ?? []) {
        networks.push(name);
        if (endpoint) endpoints.push({ prefix: `NetworkingConfig.EndpointsConfig[${JSON.stringify(name)}].`, endpoint });
      }
      return { kind: 'container', image: top.Image as string | undefined, views, endpoints, networks };
    },
  },
  // API < 1.24 applies a HostConfig sent with start.
  'container.start': {
    required: false,
    subject: (body) =>
      body.kind === 'json' ? { kind: 'container', image: undefined, views: [{ prefix: '', hc: body.json.decode(hostConfigShape) }] } : NONE,
  },
  'container.update': {
    required: true,
    subject: (body) => ({
      kind: 'container',
      image: undefined,
      views: [{ prefix: '', hc: jsonBody(body).decode(containerUpdateShape) }],
    }),
  },
  'container.exec.create': {
    required: true,
    subject: (body) => {
      const exec = jsonBody(body).decode(execCreateShape);
      return { kind: 'exec', privileged: exec.Privileged === true, user: exec.User as string | undefined };
    },
  },
  // Swarm services: their tasks are containers built from the spec.
  'service.create': { required: true, subject: serviceSubject },
  'service.update': { required: true, subject: serviceSubject },
  'network.create': {
    required: true,
    subject: (body) => ({ kind: 'network-create', network: jsonBody(body).decode(networkCreateShape) as NetworkCreateFields }),
  },
  'network.connect': {
    required: true,
    subject: (body) => {
      const connect = jsonBody(body).decode(networkConnectShape);
      const endpoint = connect.EndpointConfig as EndpointFields | undefined;
      return {
        kind: 'network-connect',
        container: connect.Container as string | undefined,
        endpoint: endpoint && { prefix: 'EndpointConfig.', endpoint },
      };
    },
  },
  'network.disconnect': {
    required: true,
    subject: (body) => ({
      kind: 'network-connect',
      container: jsonBody(body).decode(networkDisconnectShape).Container as string | undefined,
      endpoint: undefined,
    }),
  },
  'volume.create': {
    required: true,
    subject: (body) => {
      const v = jsonBody(body).decode(volumeCreateShape);
      return {
        kind: 'volume',
        driver: (v.Driver as string | undefined) ?? '',
        options: (v.DriverOpts as Map<string, string> | undefined) ?? new Map(),
      };
    },
  },
};

function identityOf(env: AuthzEnvelope): Identity {
  if (env.User === undefined || env.User === '') return { kind: 'anonymous' };
  if (typeof env.User !== 'string') throw codedError(codes.REQUEST_MALFORMED, 'User is not a string');
  if (env.User.startsWith('@')) throw codedError(codes.REQUEST_MALFORMED, `user name ${JSON.stringify(env.User)} is reserved`);
  return { kind: 'tls', name: env.User };
}

function headersOf(env: AuthzEnvelope): Headers {
  const h = env.RequestHeaders;
  if (h === undefined || h === null) return {};
  if (typeof h !== 'object' || Array.isArray(h)) throw codedError(codes.REQUEST_MALFORMED, 'RequestHeaders is not an object');
  return h as Headers;
}

// The legacy builder applies `ulimits` (JSON, read with json.Unmarshal) to its build containers. A
// query value is small and not a struct: the reference decoder reads it.
function buildUlimits(params: URLSearchParams): UlimitFields[] | undefined {
  const raw = params.get('ulimits');
  if (raw === null || raw === '') return undefined;
  const { value, rest } = parseJson(raw);
  if (rest.trim() !== '') throw codedError(codes.BODY_INVALID, 'ulimits has data after its JSON value');
  return (decodeValue(value, ulimitsShape, 'ulimits') as (UlimitFields | undefined)[] | undefined)?.filter((u) => u !== undefined);
}

// `docker login`: the daemon reads the registry from the body's serveraddress. Only that address
// is kept; the credentials next to it are never decoded, kept or logged. A body the daemon did not
// show (newer daemons withhold it on purpose) leaves the registry unknown.
function loginSubject(encoded: unknown, headers: Headers): Subject {
  const body = viewBody(encoded, headers);
  if (body.kind === 'empty') return NONE; // the daemon fails to decode an empty body
  if (body.kind === 'hidden') return { kind: 'login', registry: undefined };
  const address = body.json.decode(authConfigShape).serveraddress as string | undefined;
  return { kind: 'login', registry: loginRegistry(address ?? '') };
}

function querySubject(op: string, query: string, headers: Headers): Subject | undefined {
  if (op === 'image.build') {
    const params = new URLSearchParams(query);
    const ulimits = buildUlimits(params);
    return ulimits ? { kind: 'build', query: params, ulimits } : { kind: 'build', query: params };
  }
  if (op === 'image.create') {
    const params = new URLSearchParams(query);
    // A pull has no body. One that declares a body may carry a form (behind a repeated
    // Content-Type the plugin is not shown) whose values the daemon reads instead of the query.
    if (params.get('fromSrc') !== '-' && header(headers, 'Content-Length') !== '0') {
      throw codedError(codes.BODY_NOT_VISIBLE, 'an image pull must not carry a body (Content-Length: 0)');
    }
    return { kind: 'image-create', query: params };
  }
  if (op === 'plugin.pull' || op === 'plugin.create' || op === 'plugin.upgrade' || op === 'plugin.privileges') {
    return { kind: 'plugin', query: new URLSearchParams(query) };
  }
  if (op === 'image.search') return { kind: 'search', query: new URLSearchParams(query) };
  // The daemon reads the container to commit from the query (r.Form.Get: the first value).
  if (op === 'container.commit') return { kind: 'commit', container: new URLSearchParams(query).get('container') ?? '' };
  return undefined;
}

/** Turns the daemon's AuthZ envelope into the operation the daemon will perform. */
export function normalize(env: AuthzEnvelope): Normalized {
  let identity: Identity | undefined;
  let op: string | undefined;
  let path: string | undefined;
  try {
    identity = identityOf(env);
    const method = env.RequestMethod;
    const uri = env.RequestUri;
    if (typeof method !== 'string' || !METHODS.has(method)) {
      throw codedError(codes.REQUEST_MALFORMED, `unsupported RequestMethod ${JSON.stringify(method ?? null)}`);
    }
    if (typeof uri !== 'string' || uri === '') throw codedError(codes.REQUEST_MALFORMED, 'RequestUri is missing');
    const parsed = parseRequestUri(uri);
    path = parsed.path;
    const match = matchRoute(method, parsed.path);
    if (!match) throw codedError(codes.OPERATION_UNKNOWN, `${method} ${parsed.path} is not an operation this plugin knows`);
    op = match.route.op;
    const headers = headersOf(env);
    // Newer daemons withhold the `docker login` body (credentials) on purpose.
    const untrusted = untrustedBody(headers, env.RequestBody, op === 'system.auth');
    if (untrusted) throw codedError(codes.BODY_NOT_VISIBLE, untrusted);
    if (!isGoCleanQuery(parsed.query)) {
      throw codedError(codes.URI_INVALID, 'the query string has pairs the daemon would silently drop (a bad %-escape or a ";")');
    }

    let subject = querySubject(op, parsed.query, headers) ?? NONE;
    if (op === 'system.auth') subject = loginSubject(env.RequestBody, headers);
    const rule = BODY_RULES[op];
    if (rule) {
      const body = viewBody(env.RequestBody, headers);
      if (body.kind === 'hidden' || (rule.required && body.kind === 'empty')) {
        throw codedError(
          codes.BODY_NOT_VISIBLE,
          `the daemon did not show the ${op} request body to the plugin (not JSON, 1 MiB or larger, chunked, or a retry), so it cannot be judged`,
        );
      }
      subject = rule.subject(body);
    }
    return {
      ok: true,
      request: { identity, method, path: parsed.path, apiVersion: parsed.apiVersion, op, params: match.params, subject },
    };
  } catch (err) {
    if (!isCodedError(err)) throw err;
    return {
      ok: false,
      code: err.code,
      message: err.message,
      ...(identity && { identity }),
      ...(op && { op }),
      ...(path !== undefined && { path }),
    };
  }
}
