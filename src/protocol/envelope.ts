import type { AuthzEnvelope } from '../request/types.js';

export type Envelope = AuthzEnvelope & Record<string, unknown>;

// The daemon's envelope nests two levels (the object, RequestHeaders); bodies travel as base64
// text. V8's JSON.parse takes seconds and gigabytes on millions of nested brackets, so deeper
// input is refused before it is parsed.
export const MAX_ENVELOPE_DEPTH = 8;

/** True when `text` nests deeper than `max` outside of strings. */
function nestsDeeperThan(text: string, max: number): boolean {
  // Cheap pre-check: fewer opening brackets than the limit cannot nest deeper.
  let opens = 0;
  for (let i = text.indexOf('{'); i !== -1 && opens <= max; i = text.indexOf('{', i + 1)) opens++;
  for (let i = text.indexOf('['); i !== -1 && opens <= max; i = text.indexOf('[', i + 1)) opens++;
  if (opens <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Reads the daemon's AuthZ call. The daemon sends no Content-Type, so the text is parsed here.
 * Returns the envelope, or why it cannot be read (an empty call is the daemon's retry of a call
 * whose connection dropped: it carries no body at all and must never be allowed).
 */
export function parseEnvelope(text: string): Envelope | string {
  if (text.trim() === '') return 'empty request (the daemon resends an empty body when it retries a dropped call)';
  if (nestsDeeperThan(text, MAX_ENVELOPE_DEPTH)) return `request nests deeper than ${MAX_ENVELOPE_DEPTH} levels`;
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'request is not a JSON object';
    return value as Envelope;
  } catch {
    return 'request is not valid JSON';
  }
}
