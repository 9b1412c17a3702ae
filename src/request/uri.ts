import { codes, codedError } from '../errors.js';

export interface ParsedUri {
  /** The path the daemon's router matches: percent-decoded, version prefix removed. */
  readonly path: string;
  /** The `/vX.Y` prefix, without the `v`; undefined when the request was unversioned. */
  readonly apiVersion: string | undefined;
  /** The raw query string, without `?`. */
  readonly query: string;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/)/;

/**
 * Reads `RequestUri` the way Go's server and dockerd's router do: Go's url.ParseRequestURI takes an
 * origin-form path verbatim (no fragment, no authority) or the path of an absolute-form target, the
 * router matches the percent-decoded path (`%2F` becomes `/`), and `/v{version:[0-9.]+}` is optional.
 */
export function parseRequestUri(raw: string): ParsedUri {
  let target = raw;
  if (!target.startsWith('/')) {
    if (!SCHEME.test(target)) throw codedError(codes.URI_INVALID, `request target ${JSON.stringify(raw)} is not a path`);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw codedError(codes.URI_INVALID, `request target ${JSON.stringify(raw)} is not a valid URL`);
    }
    target = url.pathname + url.search;
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  let path: string;
  try {
    path = rawPath.includes('%') ? decodeURIComponent(rawPath) : rawPath;
  } catch {
    throw codedError(codes.URI_INVALID, `request path ${JSON.stringify(rawPath)} has a bad percent-encoding`);
  }
  // gorilla/mux redirects un-clean paths instead of serving them; refuse them rather than guess.
  if (/\/\/|\/\.\.?(\/|$)/.test(path) || path.includes('\0')) {
    throw codedError(codes.URI_INVALID, `request path ${JSON.stringify(path)} is not a clean path`);
  }
  const m = VERSION_PREFIX.exec(path);
  return m ? { path: path.slice(m[0].length), apiVersion: m[1], query } : { path, apiVersion: undefined, query };
}

const versionParts = (v: string): number[] => v.split('.').map((p) => Number(p) || 0);

function compareParts(pa: readonly number[], pb: readonly number[]): number {
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Compares dotted API versions numerically, as the daemon does (`1.9` < `1.24`). */
export function compareApiVersions(a: string, b: string): number {
  return compareParts(versionParts(a), versionParts(b));
}

// Clients send a handful of API versions: each is compared once (bounded: the version is the caller's).
const VERSIONS_KEPT = 256;

/** A predicate for "older than `min`", with `min` parsed once and each version compared once. */
export function olderThan(min: string): (version: string) => boolean {
  const floor = versionParts(min);
  const seen = new Map<string, boolean>();
  return (version) => {
    let older = seen.get(version);
    if (older === undefined) {
      older = compareParts(versionParts(version), floor) < 0;
      if (seen.size < VERSIONS_KEPT && version.length <= 16) seen.set(version, older);
    }
    return older;
  };
}

/**
 * True when Go's url.ParseQuery reads every pair of `query` without error. The daemon's handlers
 * use r.FormValue, which drops the pairs Go cannot parse (a bad escape, a ";") and keeps the rest,
 * while URLSearchParams keeps them: `networkmode=%zz&networkmode=host` is "host" to the daemon.
 */
export function isGoCleanQuery(query: string): boolean {
  return query === '' || !/;|%(?![0-9a-fA-F]{2})/.test(query);
}
