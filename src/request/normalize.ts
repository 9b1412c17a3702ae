import { codes, codedError, isCodedError, type ErrorCode } from '../errors.js';
import { header, untrustedBody, viewBody, type BodyView, type Headers } from './body.js';
import { containerCreateShape, containerUpdateShape, execCreateShape, hostConfigShape, volumeCreateShape } from './docker-shapes.js';
import { matchRoute } from './routes.js';
import { serviceView } from './service-spec.js';
import type { AuthzEnvelope, DockerRequest, HostConfigFields, Identity, Subject } from './types.js';
import { isGoCleanQuery, parseRequestUri } from './uri.js';

export type Normalized =
  | { readonly ok: true; readonly request: DockerRequest }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly op?: string; readonly path?: string };

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
      return { kind: 'container', image: top.Image as string | undefined, views };
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

function querySubject(op: string, query: string, headers: Headers): Subject | undefined {
  if (op === 'image.build') return { kind: 'build', query: new URLSearchParams(query) };
  if (op === 'image.create') {
    const params = new URLSearchParams(query);
    // A pull has no body. One that declares a body may carry a form (behind a repeated
    // Content-Type the plugin is not shown) whose values the daemon reads instead of the query.
    if (params.get('fromSrc') !== '-' && header(headers, 'Content-Length') !== '0') {
      throw codedError(codes.BODY_NOT_VISIBLE, 'an image pull must not carry a body (Content-Length: 0)');
    }
    return { kind: 'image-create', query: params };
  }
  if (op === 'plugin.pull' || op === 'plugin.create') return { kind: 'plugin', query: new URLSearchParams(query) };
  return undefined;
}

/** Turns the daemon's AuthZ envelope into the operation the daemon will perform. */
export function normalize(env: AuthzEnvelope): Normalized {
  let op: string | undefined;
  let path: string | undefined;
  try {
    const identity = identityOf(env);
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
    return { ok: false, code: err.code, message: err.message, ...(op && { op }), ...(path !== undefined && { path }) };
  }
}
