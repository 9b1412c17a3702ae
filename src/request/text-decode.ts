import { codes, codedError, type CodedError } from '../errors.js';
import type { Decoded, Shape, StructShape } from './go-decode.js';
import {
  entryPath,
  fieldPath,
  fieldTable,
  givenTwiceRefusal,
  matchAt,
  type FieldTable,
  type Match,
  typeRefusal,
  unicodeFoldRefusal,
  zeroValue,
} from './go-fields.js';
import { MAX_DEPTH } from './json-parse.js';

// The exact decoder in one pass: reads JSON text straight into the Go struct, allocating only
// for the fields the shape names, and validating everything else without building it. It gives
// what parseJson + decodeStruct give (the reference: json-parse.ts, go-decode.ts), refusal for
// refusal and word for word, so the order of refusals is theirs too:
//  1. a syntax error anywhere (the first, at its offset), including nesting past MAX_DEPTH;
//  2. data after the JSON value;
//  3. the first decoding refusal (wrong type, key given twice, Unicode fold) in document order.
// A decoding refusal is therefore held in `refusal` while the rest of the text is validated, and
// decoding stops there (what is left is only validated).
// Its cost is linear in the text with small constants, whatever the text: no tree, no per-key
// object, no per-element path string unless a refusal needs it.

// The decoder's state for the one body being decoded (decoding is synchronous and not reentrant).
let src = '';
let pos = 0;
let refusal: CodedError | undefined;
// For each struct object being decoded, a slot per field: the key that gave it (a stack).
const given: (string | undefined)[] = [];
let givenTop = 0;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const T = 0x74;
const F = 0x66;
const N = 0x6e;

function fail(msg: string, at: number): never {
  throw codedError(codes.BODY_INVALID, `invalid JSON at offset ${at}: ${msg}`);
}

function unexpected(at: number): never {
  const c = src[at];
  return fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`, at);
}

function ws(): void {
  for (;;) {
    const c = src.charCodeAt(pos);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else return;
  }
}

// Every value starts here: the depth check comes before the whitespace, as in parseJson.
function enter(depth: number): number {
  if (depth > MAX_DEPTH) fail('nesting too deep', pos);
  ws();
  return src.charCodeAt(pos);
}

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

// ---- validation only ----

function skipString(): void {
  pos++; // opening quote
  for (;;) {
    const c = src.charCodeAt(pos);
    if (c === QUOTE) {
      pos++;
      return;
    }
    if (c === BACKSLASH) escapeCode();
    else if (c >= 0x20) pos++;
    else fail(c === c ? 'control character in string' : 'unterminated string', pos); // NaN: the end
  }
}

function hexDigit(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

// Reads the escape at `pos` (a backslash); returns the UTF-16 code unit it stands for.
function escapeCode(): number {
  const e = src.charCodeAt(pos + 1);
  pos += 2;
  switch (e) {
    case QUOTE:
    case BACKSLASH:
    case 0x2f: // '/'
      return e;
    case 0x62:
      return 0x08;
    case F:
      return 0x0c;
    case N:
      return 0x0a;
    case 0x72:
      return 0x0d;
    case T:
      return 0x09;
    case 0x75: {
      const a = hexDigit(src.charCodeAt(pos));
      const b = hexDigit(src.charCodeAt(pos + 1));
      const c = hexDigit(src.charCodeAt(pos + 2));
      const d = hexDigit(src.charCodeAt(pos + 3));
      if ((a | b | c | d) < 0) fail('bad \\u escape', pos);
      pos += 4;
      return (a << 12) | (b << 8) | (c << 4) | d;
    }
  }
  return fail('bad escape', pos - 1);
}

// The end of the number at `pos`, as parseJson's NUMBER pattern reads it; -1 if there is none.
function numberEnd(): number {
  let p = pos;
  if (src.charCodeAt(p) === MINUS) p++;
  const first = src.charCodeAt(p);
  if (first === ZERO) p++;
  else if (first > ZERO && first <= NINE) {
    p++;
    while (isDigit(src.charCodeAt(p))) p++;
  } else return -1;
  if (src.charCodeAt(p) === 0x2e && isDigit(src.charCodeAt(p + 1))) {
    p += 2;
    while (isDigit(src.charCodeAt(p))) p++;
  }
  const e = src.charCodeAt(p);
  if (e === 0x65 || e === 0x45) {
    let q = p + 1;
    const sign = src.charCodeAt(q);
    if (sign === 0x2b || sign === MINUS) q++;
    if (isDigit(src.charCodeAt(q))) {
      q++;
      while (isDigit(src.charCodeAt(q))) q++;
      p = q;
    }
  }
  return p;
}

// true, false and null, by their first letter (already seen at `pos`).
function literal(first: number): boolean {
  let n: number;
  if (first === T) n = src.charCodeAt(pos + 1) === 0x72 && src.charCodeAt(pos + 2) === 0x75 && src.charCodeAt(pos + 3) === 0x65 ? 4 : 0;
  else if (first === F) {
    n =
      src.charCodeAt(pos + 1) === 0x61 &&
      src.charCodeAt(pos + 2) === 0x6c &&
      src.charCodeAt(pos + 3) === 0x73 &&
      src.charCodeAt(pos + 4) === 0x65
        ? 5
        : 0;
  } else n = src.charCodeAt(pos + 1) === 0x75 && src.charCodeAt(pos + 2) === 0x6c && src.charCodeAt(pos + 3) === 0x6c ? 4 : 0;
  pos += n;
  return n !== 0;
}

// Validates the value starting with `c` at `pos` (after `enter`).
function skipFrom(c: number, depth: number): void {
  switch (c) {
    case OPEN_OBJECT:
      pos++;
      ws();
      if (src.charCodeAt(pos) === CLOSE_OBJECT) {
        pos++;
        return;
      }
      for (;;) {
        ws();
        if (src.charCodeAt(pos) !== QUOTE) fail('expected object key', pos);
        skipString();
        ws();
        if (src.charCodeAt(pos) !== COLON) fail("expected ':'", pos);
        pos++;
        skipFrom(enter(depth + 1), depth + 1);
        if (endOfMember(CLOSE_OBJECT)) return;
      }
    case OPEN_ARRAY:
      pos++;
      ws();
      if (src.charCodeAt(pos) === CLOSE_ARRAY) {
        pos++;
        return;
      }
      for (;;) {
        skipFrom(enter(depth + 1), depth + 1);
        if (endOfMember(CLOSE_ARRAY)) return;
      }
    case QUOTE:
      return skipString();
    case T:
    case F:
    case N:
      if (literal(c)) return;
      break;
    default: {
      const end = numberEnd();
      if (end !== -1) {
        pos = end;
        return;
      }
    }
  }
  unexpected(pos);
}

// After a member: true at the closing bracket, false at a comma.
function endOfMember(close: number): boolean {
  ws();
  const sep = src.charCodeAt(pos++);
  if (sep === close) return true;
  if (sep !== COMMA) fail(close === CLOSE_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'", pos - 1);
  return false;
}

// ---- decoding ----

// A string with escapes is spelled out in code units here, then made a string in chunks: linear
// however many escapes there are, and lone surrogates stay as they are (as in parseJson).
let units = new Uint16Array(4096);
const CHUNK = 8192;

function readString(): string {
  const start = ++pos;
  for (;;) {
    const c = src.charCodeAt(pos);
    if (c === QUOTE) return src.slice(start, pos++);
    if (c === BACKSLASH) break;
    if (c >= 0x20) pos++;
    else fail(c === c ? 'control character in string' : 'unterminated string', pos);
  }
  let n = 0;
  for (let i = start; i < pos; i++) n = put(n, src.charCodeAt(i));
  for (;;) {
    const c = src.charCodeAt(pos);
    if (c === QUOTE) break;
    if (c === BACKSLASH) n = put(n, escapeCode());
    else if (c >= 0x20) {
      n = put(n, c);
      pos++;
    } else fail(c === c ? 'control character in string' : 'unterminated string', pos);
  }
  pos++;
  let out = '';
  for (let i = 0; i < n; i += CHUNK)
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(n, i + CHUNK)) as unknown as number[]);
  return out;
}

function put(n: number, unit: number): number {
  if (n === units.length) {
    const grown = new Uint16Array(n * 2);
    grown.set(units);
    units = grown;
  }
  units[n] = unit;
  return n + 1;
}

const JSON_TYPE: Readonly<Record<number, string>> = {
  [OPEN_OBJECT]: 'object',
  [OPEN_ARRAY]: 'array',
  [QUOTE]: 'string',
  [T]: 'bool',
  [F]: 'bool',
  [N]: 'null',
};

// Where the value being decoded sits, as a stack of segments (a field name, an element index or
// a map key), spelled out only for a refusal, the way go-decode.ts spells it.
const SEG_FIELD = 0;
const SEG_INDEX = 1;
const SEG_KEY = 2;
const segKinds: number[] = [];
const segs: (string | number)[] = [];
let segTop = 0;

function enterSeg(kind: number, seg: string | number): void {
  segKinds[segTop] = kind;
  segs[segTop++] = seg;
}

function here(): string {
  let out = '';
  for (let i = 0; i < segTop; i++) {
    const seg = segs[i]!;
    const kind = segKinds[i];
    out = kind === SEG_FIELD ? fieldPath(out, seg as string) : kind === SEG_INDEX ? `${out}[${seg}]` : entryPath(out, seg as string);
  }
  return out;
}

// A value of the wrong JSON type: the refusal is held, the value validated.
function mismatch(c: number, depth: number, want: string): undefined {
  refusal ??= typeRefusal(here(), JSON_TYPE[c] ?? 'number', want); // not a number: skipFrom throws
  skipFrom(c, depth);
  return undefined;
}

/** Decodes the value at `pos` as `shape`; `undefined` for null (and for anything after a refusal). */
function decodeValue(shape: Shape, depth: number): unknown {
  const c = enter(depth);
  if (c === N && literal(N)) return undefined;
  if (refusal) return skipFrom(c, depth);
  switch (shape) {
    case 'bool':
      if ((c === T || c === F) && literal(c)) return c === T;
      return mismatch(c, depth, 'a boolean');
    case 'string':
      return c === QUOTE ? readString() : mismatch(c, depth, 'a string');
    case 'number': {
      const end = c === MINUS || isDigit(c) ? numberEnd() : -1;
      if (end === -1) return mismatch(c, depth, 'a number');
      const n = Number(src.slice(pos, end));
      pos = end;
      return n;
    }
    case 'strslice':
      if (c === QUOTE) return [readString()];
      return c === OPEN_ARRAY ? decodeArray('string', depth) : mismatch(c, depth, 'an array');
  }
  if ('slice' in shape) return c === OPEN_ARRAY ? decodeArray(shape.slice, depth) : mismatch(c, depth, 'an array');
  if ('map' in shape) return c === OPEN_OBJECT ? decodeMap(shape.map, depth) : mismatch(c, depth, 'an object');
  return c === OPEN_OBJECT ? decodeObject(shape, depth) : mismatch(c, depth, 'an object');
}

function decodeArray(elem: Shape, depth: number): unknown[] {
  const out: unknown[] = [];
  pos++;
  ws();
  if (src.charCodeAt(pos) === CLOSE_ARRAY) {
    pos++;
    return out;
  }
  const seg = segTop;
  enterSeg(SEG_INDEX, 0);
  for (let i = 0; ; i++) {
    segs[seg] = i;
    const v = decodeValue(elem, depth + 1);
    // Only null decodes to undefined here: Go leaves the element's zero value.
    out.push(v === undefined ? zeroValue(elem) : v);
    if (endOfMember(CLOSE_ARRAY)) break;
  }
  segTop = seg;
  return out;
}

function decodeMap(elem: Shape, depth: number): Map<string, unknown> {
  const out = new Map<string, unknown>();
  pos++;
  ws();
  if (src.charCodeAt(pos) === CLOSE_OBJECT) {
    pos++;
    return out;
  }
  for (;;) {
    ws();
    if (src.charCodeAt(pos) !== QUOTE) fail('expected object key', pos);
    const key = readString();
    ws();
    if (src.charCodeAt(pos) !== COLON) fail("expected ':'", pos);
    pos++;
    // Map keys are exact in Go; a repeated key is simply overwritten by the later one.
    enterSeg(SEG_KEY, key);
    out.set(key, decodeValue(elem, depth + 1));
    segs[--segTop] = 0; // not kept: the key may be a view into the whole text
    if (endOfMember(CLOSE_OBJECT)) return out;
  }
}

// The key at `pos` (an opening quote), matched to a field of `table`; leaves the key in `key`.
let key = '';
function readKey(table: FieldTable, i: number): Match | undefined {
  // The same key as at this position last time (a plain key: no escape can hide in the text).
  const recent = table.recentKeys[i];
  if (recent !== undefined) {
    const end = pos + 1 + recent.length;
    if (src.charCodeAt(end) === QUOTE && src.slice(pos + 1, end) === recent) {
      pos = end + 1;
      key = recent;
      return table.recentMatches[i] ?? undefined;
    }
  }
  key = readString();
  return matchAt(table, key, i);
}

function decodeObject(shape: StructShape, depth: number): Decoded {
  const table = fieldTable(shape);
  const out: Decoded = {};
  pos++;
  ws();
  if (src.charCodeAt(pos) === CLOSE_OBJECT) {
    pos++;
    return out;
  }
  const base = givenTop;
  givenTop += table.fields.length;
  for (let i = 0; ; i++) {
    ws();
    if (src.charCodeAt(pos) !== QUOTE) fail('expected object key', pos);
    const match = readKey(table, i);
    ws();
    if (src.charCodeAt(pos) !== COLON) fail("expected ':'", pos);
    pos++;
    if (!match || refusal) {
      skipFrom(enter(depth + 1), depth + 1); // Go ignores unknown keys
    } else {
      const f = match.field;
      const slot = base + f.index;
      const previous = given[slot];
      enterSeg(SEG_FIELD, f.name);
      if (match.viaUnicode) refusal = unicodeFoldRefusal(key, here());
      else if (previous !== undefined) refusal = givenTwiceRefusal(here(), previous, key);
      if (refusal) {
        skipFrom(enter(depth + 1), depth + 1);
      } else {
        given[slot] = key;
        const v = decodeValue(f.shape, depth + 1);
        if (v !== undefined || f.nullable) out[f.name] = v;
      }
      segTop--;
    }
    if (endOfMember(CLOSE_OBJECT)) break;
  }
  for (let s = base; s < givenTop; s++) given[s] = undefined;
  givenTop = base;
  return out;
}

/**
 * Decodes JSON `text` as the Go struct `shape`, exactly as parseJson, the trailing-data check and
 * decodeStruct do together.
 */
export function decodeText(text: string, shape: StructShape): Decoded {
  src = text;
  pos = 0;
  refusal = undefined;
  givenTop = 0;
  segTop = 0;
  try {
    const c = enter(0);
    const out = c === OPEN_OBJECT ? decodeObject(shape, 0) : mismatch(c, 0, 'an object');
    ws();
    if (pos < src.length && src.slice(pos).trim() !== '') {
      throw codedError(codes.BODY_AMBIGUOUS, 'request body has data after its JSON value');
    }
    if (refusal) throw refusal;
    return out!;
  } catch (err) {
    given.length = 0; // a syntax error leaves slots (and path segments) set
    segs.length = 0;
    throw err;
  } finally {
    src = '';
    key = '';
    refusal = undefined;
    if (units.length > 65536) units = new Uint16Array(4096); // do not keep a big string's buffer
  }
}
