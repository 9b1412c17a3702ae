import { codes, codedError } from '../errors.js';
import { parseJson, type JsonNode } from './json-parse.js';

export type Headers = Readonly<Record<string, string>>;

/** What the plugin can know about the client's request body. */
export type BodyView =
  | { readonly kind: 'json'; readonly node: JsonNode }
  | { readonly kind: 'empty' } // the client declared no body (Content-Length: 0)
  | { readonly kind: 'hidden' }; // there may be a body, but the daemon did not forward it

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function header(headers: Headers, name: string): string | undefined {
  // The daemon canonicalises header names, but a hand-written envelope might not.
  if (name in headers) return headers[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(headers)) if (k.toLowerCase() === lower) return headers[k];
  return undefined;
}

/**
 * Form bodies override query parameters in the daemon's r.FormValue, and the daemon never forwards
 * them to the plugin, so any request carrying one is refused.
 */
export function hasFormBody(headers: Headers): boolean {
  const type = mediaType(header(headers, 'Content-Type'));
  if (type !== 'application/x-www-form-urlencoded' && type !== 'multipart/form-data') return false;
  return header(headers, 'Content-Length') !== '0';
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
    const declared = header(headers, 'Content-Length');
    if (declared !== undefined && Number(declared) !== bytes.length) {
      throw codedError(codes.BODY_INVALID, `request body is ${bytes.length} bytes but Content-Length says ${declared}`);
    }
    const { value, rest } = parseJson(bytes.toString('utf8'));
    if (rest.trim() !== '') throw codedError(codes.BODY_AMBIGUOUS, 'request body has data after its JSON value');
    return { kind: 'json', node: value };
  }
  if (encoded !== undefined && typeof encoded !== 'string') {
    throw codedError(codes.REQUEST_MALFORMED, 'RequestBody is not a string');
  }
  return header(headers, 'Content-Length') === '0' ? { kind: 'empty' } : { kind: 'hidden' };
}
