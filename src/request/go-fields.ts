import { codes, codedError, type CodedError } from '../errors.js';
import type { Shape, StructShape } from './go-decode.js';

// What both body decoders (the reference over a JsonNode tree, go-decode.ts, and the one-pass
// decoder the plugin runs, text-decode.ts) share: how a JSON key finds a Go struct field, and the
// words of every refusal. Sharing them keeps the two decoders' answers identical.

export interface Field {
  readonly name: string;
  readonly shape: Shape;
  /** Position in its struct (text-decode.ts keeps a slot per field for repeated keys). */
  readonly index: number;
  /** `null` stores nil here (pointers, slices, maps), rather than leaving the field alone. */
  readonly nullable: boolean;
}

/** A key's field, and whether the key reaches it only through a non-ASCII case fold. */
export interface Match {
  readonly field: Field;
  readonly viaUnicode: boolean;
}

export interface FieldTable {
  readonly fields: readonly Field[];
  readonly byFold: ReadonlyMap<string, Field>;
  /**
   * No longer key can fold onto a field name: every code point folds to at least one character,
   * and a code point is at most two UTF-16 units. Longer keys skip folding (bounded work per key).
   */
  readonly longestMatch: number;
  /** Keys already looked up (the Go names come pre-filled), so most keys cost one Map lookup. */
  readonly memo: Map<string, Match | null>;
  /**
   * The keys of the last object decoded with this table, by position, and what they matched. A
   * client sends the same keys in the same order every time, so comparing the key at the same
   * position is the cheapest lookup there is. Only keys spelled without escapes are kept, so
   * text-decode.ts can compare them with the raw text.
   */
  readonly recentKeys: (string | undefined)[];
  readonly recentMatches: (Match | null)[];
}

// Bounds on what a request can add to a table's memo: unknown keys are attacker-chosen.
const MEMO_LIMIT = 512;
const MEMO_KEY_LENGTH = 64;
const RECENT_LIMIT = 256;

// The non-ASCII characters that some Go version folds onto an ASCII letter.
const NON_ASCII_FOLDS: Readonly<Record<string, string>> = { '\u017f': 's', '\u212a': 'k', '\u0131': 'i' };
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

export function foldKey(key: string): { folded: string; viaUnicode: boolean } {
  if (ASCII.test(key)) return { folded: key.toLowerCase(), viaUnicode: false };
  let folded = '';
  let viaUnicode = false;
  for (const ch of key) {
    const f = NON_ASCII_FOLDS[ch];
    if (f !== undefined) viaUnicode = true;
    folded += f ?? ch.toLowerCase();
  }
  return { folded, viaUnicode };
}

export function isNullable(shape: Shape): boolean {
  return (
    shape === 'strslice' ||
    (typeof shape === 'object' && ('slice' in shape || 'map' in shape || ('struct' in shape && shape.pointer === true)))
  );
}

// What Go leaves in a slice element given `null`: the element type's zero value.
export function zeroValue(shape: Shape): unknown {
  if (shape === 'string') return '';
  if (shape === 'bool') return false;
  if (shape === 'number') return 0;
  return typeof shape === 'object' && 'struct' in shape && !shape.pointer ? {} : undefined;
}

const tables = new WeakMap<StructShape, FieldTable>();

export function fieldTable(shape: StructShape): FieldTable {
  let table = tables.get(shape);
  if (table) return table;
  const fields = Object.entries(shape.struct).map(([name, s], index): Field => ({ name, shape: s, index, nullable: isNullable(s) }));
  const byFold = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const longestMatch = 2 * Math.max(0, ...[...byFold.keys()].map((k) => k.length));
  table = { fields, byFold, longestMatch, memo: new Map(), recentKeys: [], recentMatches: [] };
  tables.set(shape, table);
  for (const f of fields) matchKey(table, f.name);
  return table;
}

const matches = new WeakMap<Field, readonly [Match, Match]>();

function lookup(table: FieldTable, key: string): Match | null {
  if (key.length > table.longestMatch) return null;
  const { folded, viaUnicode } = foldKey(key);
  const field = table.byFold.get(folded);
  if (!field) return null;
  let pair = matches.get(field);
  if (!pair) {
    pair = [
      { field, viaUnicode: false },
      { field, viaUnicode: true },
    ];
    matches.set(field, pair);
  }
  return pair[viaUnicode ? 1 : 0];
}

// A key cut from a request's text may be a view into all of that text (V8 slices strings): the
// tables keep a copy of their own, or one remembered key would keep a 1 MiB body alive.
const own = (key: string): string => (' ' + key).slice(1);

/** The field `key` reaches under Go's case-insensitive matching, or undefined (Go ignores the key). */
export function matchKey(table: FieldTable, key: string): Match | undefined {
  let m = table.memo.get(key);
  if (m === undefined) {
    m = lookup(table, key);
    if (table.memo.size < MEMO_LIMIT && key.length <= MEMO_KEY_LENGTH) table.memo.set(own(key), m);
  }
  return m ?? undefined;
}

// A key that JSON text spells with no escape: text-decode.ts compares such keys in place.
// eslint-disable-next-line no-control-regex
const PLAIN_KEY = /^[^"\\\x00-\x1f]*$/;

/** matchKey for the `i`th key of an object. */
export function matchAt(table: FieldTable, key: string, i: number): Match | undefined {
  if (table.recentKeys[i] === key) return table.recentMatches[i] ?? undefined;
  const m = matchKey(table, key);
  if (i < RECENT_LIMIT) {
    table.recentKeys[i] = key.length <= MEMO_KEY_LENGTH && PLAIN_KEY.test(key) ? own(key) : undefined;
    table.recentMatches[i] = m ?? null;
  }
  return m;
}

export const fieldPath = (parent: string, name: string): string => (parent ? `${parent}.${name}` : name);

/** `where[key]`: how a map entry is named in messages. */
export const entryPath = (where: string, key: string): string => `${where}[${JSON.stringify(key)}]`;

export const typeRefusal = (field: string, jsonType: string, want: string): CodedError =>
  codedError(codes.BODY_INVALID, `${field || 'body'} is a JSON ${jsonType} where the daemon expects ${want}`);

export const unicodeFoldRefusal = (key: string, path: string): CodedError =>
  codedError(codes.BODY_AMBIGUOUS, `key ${JSON.stringify(key)} reaches ${path} only through Unicode case folding`);

export const givenTwiceRefusal = (path: string, previous: string, key: string): CodedError =>
  codedError(codes.BODY_AMBIGUOUS, `${path} is given twice (${JSON.stringify(previous)} and ${JSON.stringify(key)})`);

export function typeError(field: string, jsonType: string, want: string): never {
  throw typeRefusal(field, jsonType, want);
}

export function unicodeFoldError(key: string, path: string): never {
  throw unicodeFoldRefusal(key, path);
}

export function givenTwiceError(path: string, previous: string, key: string): never {
  throw givenTwiceRefusal(path, previous, key);
}
