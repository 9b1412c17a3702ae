import { codes, codedError } from '../errors.js';
import { JsonBody } from './json-body.js';

export type Headers = Readonly<Record<string, string>>;

/** What the plugin can know about the client's request body. */
export type BodyView =
  | { readonly kind: 'json'; readonly json: JsonBody }
  | { readonly kind: 'empty' } // the client declared no body (Content-Length: 0)
  | { readonly kind: 'hidden' }; // there may be a body, but the daemon did not forward it

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function header(headers: Headers, name: string): string | undefined {
  // The daemon canonicalises header names, but a hand-written envelope might not.
  if (name in headers) return headers[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(headers)) if (k.toLowerCase() === lower) return headers[k];
  return undefined;
}

// The daemon forwards JSON bodies below this size (20.10; current moby: 4 MiB, and refuses larger).
const FORWARDED_BODY_LIMIT = 1024 * 1024;

/**
 * Why the body the daemon will read cannot be trusted to be what the plugin sees, or undefined.
 * - Form bodies override query parameters in the daemon's r.FormValue and are never forwarded.
 * - Go lower-cases media types with Unicode rules (`İ` → `i`), JavaScript does not: a non-ASCII
 *   Content-Type may be a form type in disguise.
 * - The daemon shows the plugin only the last of repeated headers while handlers read the first:
 *   a JSON Content-Type with a small declared body that was not forwarded means another
 *   Content-Type came first. (`bodyWithheld`: routes whose body the daemon never forwards.)
 */
export function untrustedBody(headers: Headers, encoded: unknown, bodyWithheld = false): string | undefined {
  const raw = header(headers, 'Content-Type');
  const length = header(headers, 'Content-Length');
  if (length === '0') return undefined;
  // eslint-disable-next-line no-control-regex -- the point is to find anything outside ASCII
  if (raw !== undefined && /[^\x00-\x7f]/.test(raw)) return 'a Content-Type with non-ASCII characters is not accepted';
  const type = mediaType(raw);
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') return 'form-encoded request bodies are not accepted';
  const declared = Number(length);
  if (
    !bodyWithheld &&
    type === 'application/json' &&
    declared > 0 &&
    declared < FORWARDED_BODY_LIMIT &&
    (typeof encoded !== 'string' || encoded === '')
  ) {
    return 'the daemon did not forward a small JSON body (was another Content-Type sent first?)';
  }
  return undefined;
}

/**
 * Works out the body the daemon will read. A body is forwarded only when it is JSON by
 * Content-Type and under the daemon's size limit; a chunked body carries no Content-Length, and a
 * retry after a dropped connection resends nothing, so absence only means "no body" when the
 * client said Content-Length: 0.
 */
export function viewBody(encoded: unknown, headers: Headers): BodyView {
  if (typeof encoded === 'string' && encoded.length > 0) {
    const bytes = Buffer.from(encoded, 'base64');
    // dockerd 20.10 hides bodies from 1 MiB on; newer daemons forward up to 4 MiB. Refusing the same
    // sizes everywhere also bounds the time a decision can take (the parser is synchronous).
    if (bytes.length >= FORWARDED_BODY_LIMIT) {
      throw codedError(codes.BODY_NOT_VISIBLE, `request bodies of 1 MiB or more are not judged (this one is ${bytes.length} bytes)`);
    }
    const declared = header(headers, 'Content-Length');
    if (declared !== undefined && Number(declared) !== bytes.length) {
      throw codedError(codes.BODY_INVALID, `request body is ${bytes.length} bytes but Content-Length says ${declared}`);
    }
    return { kind: 'json', json: new JsonBody(bytes.toString('utf8')) };
  }
  if (encoded !== undefined && typeof encoded !== 'string') {
    throw codedError(codes.REQUEST_MALFORMED, 'RequestBody is not a string');
  }
  return header(headers, 'Content-Length') === '0' ? { kind: 'empty' } : { kind: 'hidden' };
}
