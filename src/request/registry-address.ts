import { codes, codedError } from '../errors.js';

// Which registry the daemon will contact for a request, found the way the daemon finds it.

/** Docker Hub, as the reference parser names it. */
export const DOCKER_HUB = 'docker.io';

/**
 * The registry of an image or plugin reference (`fromImage`, a push's name, a plugin's `remote`),
 * as docker/distribution's ParseNormalizedNamed splits it: the first path component is a registry
 * when there is a '/' after it and it contains '.' or ':', is `localhost`, or (newer parsers) has an
 * upper-case letter; otherwise the image is on Docker Hub. `index.docker.io` is Docker Hub.
 * A reference the daemon cannot parse is refused by the daemon too; its first component is
 * judged all the same (only ever stricter).
 */
export function referenceRegistry(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash === -1) return DOCKER_HUB;
  const first = ref.slice(0, slash);
  const isRegistry = /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase();
  if (!isRegistry) return DOCKER_HUB;
  return first === 'index.docker.io' ? DOCKER_HUB : first;
}

/**
 * The registry `docker search TERM` asks (registry.ParseSearchIndexInfo): the part before the
 * first '/' when it contains '.' or ':' or is `localhost`, otherwise Docker Hub.
 */
export function searchRegistry(term: string): string {
  return referenceRegistry(term);
}

// eslint-disable-next-line no-control-regex -- Go's url.Parse refuses ASCII control characters
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * The registry a login (`POST /auth` serveraddress) goes to, as the daemon's registry service
 * reads it: without an `http://` or `https://` prefix (compared case-sensitively) it prepends
 * `https://`, parses the result with Go's url.Parse and takes its Host (user info dropped, the
 * port kept). An empty address is Docker Hub. Addresses Go would refuse are refused here.
 */
export function loginRegistry(serverAddress: string): string {
  if (serverAddress === '') return DOCKER_HUB;
  const withScheme =
    serverAddress.startsWith('http://') || serverAddress.startsWith('https://') ? serverAddress : `https://${serverAddress}`;
  const invalid = (why: string) => codedError(codes.BODY_INVALID, `serveraddress is not an address the daemon can use (${why})`);
  if (CONTROL.test(withScheme)) throw invalid('control characters');
  // url.Parse: the fragment, then the query, go first; the authority runs to the next '/'.
  let rest = withScheme.split('#')[0]!.split('?')[0]!;
  rest = rest.slice(rest.indexOf('://') + 3);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  // Registry hosts are DNS names, IPv4 or bracketed IPv6 with a port. Go accepts more (sub-delims,
  // %-escapes of non-ASCII bytes); none of that names a registry, so it is refused.
  if (!/^(\[[0-9a-zA-Z:.%]+\]|[A-Za-z0-9._~-]+)(:[0-9]*)?$/.test(host)) throw invalid('no host, or unusual characters in it');
  return host;
}

/** A registry address split into host and port; brackets removed from an IPv6 host. */
export function splitHostPort(registry: string): { host: string; port: string | undefined } {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    const port = registry.slice(end + 1);
    return { host: registry.slice(1, end), port: port.startsWith(':') ? port.slice(1) : undefined };
  }
  const colon = registry.lastIndexOf(':');
  return colon === -1 ? { host: registry, port: undefined } : { host: registry.slice(0, colon), port: registry.slice(colon + 1) };
}
