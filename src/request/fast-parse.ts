import { MAX_DEPTH } from './json-parse.js';

// V8's JSON.parse costs a third of the exact tokenizer, but its value can differ from what Go's
// decoder sees: a repeated key keeps only its last value, and nesting has no limit. A scan of the
// bytes proves neither happened; anything it cannot prove goes to the exact parser instead.
// Everything else JSON.parse reads as Go does (the same grammar, escapes and whitespace; the same
// text, already decoded from UTF-8 with U+FFFD for invalid bytes, for both parsers).

/** JSON.parse's value could not be proven to be the exact parser's. */
export const UNPROVEN: unique symbol = Symbol('unproven');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// How many strings (keys and values) the JSON text holds, or -1 if it nests deeper than the
// exact parser allows. Run on the UTF-8 bytes: an ASCII byte never occurs inside a multi-byte
// sequence and the UTF-8 decoder never swallows one, so quotes, backslashes and brackets sit
// exactly as in the decoded text. Only meaningful for valid JSON (JSON.parse decides that).
function countStrings(bytes: Uint8Array): number {
  const n = bytes.length;
  let strings = 0;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      strings++;
      for (i++; i < n; i++) {
        const d = bytes[i]!;
        if (d === QUOTE) break;
        if (d === BACKSLASH) i++;
      }
    } else if (c === 0x7b || c === 0x5b) {
      // A value inside `depth` open brackets is parsed at depth `depth`: within the limit.
      if (++depth > MAX_DEPTH) return -1;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return strings;
}

// The strings JSON.parse kept: every key, and every string value. A repeated key drops at least
// itself, so this falls short of the text's count exactly when JSON.parse merged keys.
// Recursion depth is bounded by the scan (MAX_DEPTH).
function countParsed(v: unknown): number {
  if (typeof v === 'string') return 1;
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += countParsed(v[i]);
    return n;
  }
  const obj = v as Record<string, unknown>;
  for (const k in obj) n += 1 + countParsed(obj[k]);
  return n;
}

/**
 * JSON.parse's value of `text` when it is provably the tree the exact parser (and Go) would read,
 * with nothing after it; otherwise UNPROVEN. `bytes` are the UTF-8 bytes `text` was decoded from.
 */
export function parseProven(text: string, bytes: Uint8Array): unknown {
  const strings = countStrings(bytes);
  if (strings < 0) return UNPROVEN;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return UNPROVEN; // the exact parser names the fault
  }
  return countParsed(value) === strings ? value : UNPROVEN;
}
