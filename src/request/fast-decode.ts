import type { Decoded, Shape, StructShape } from './go-decode.js';
import {
  entryPath,
  fieldPath,
  fieldTable,
  givenTwiceError,
  matchAt,
  matchKey,
  typeError,
  unicodeFoldError,
  zeroValue,
  type Field,
  type FieldTable,
} from './go-fields.js';

// decodeStruct (go-decode.ts) over the value JSON.parse gave, once fast-parse.ts has proven it is
// the same tree: the same Go rules, fields, results and refusals, in the same order. The one thing
// a parsed object does not keep is key order: V8 lists integer-like keys ("0", "17") first. That
// changes nothing for a struct (no Go field name starts with a digit; an unknown key is skipped
// wherever it sits) but would reorder a map, so such a map is handed back to the exact decoder.

/** This value cannot be decoded here with the exact decoder's answer guaranteed; use that one. */
export class Unproven extends Error {}

type Plain = Record<string, unknown>;

function jsonType(v: unknown): string {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
  }
  return v === null ? 'null' : Array.isArray(v) ? 'array' : 'object';
}

const startsWithDigit = (key: string): boolean => {
  const c = key.charCodeAt(0);
  return c >= 0x30 && c <= 0x39;
};

// Scalars checked in place, so an element's path is only spelled out for a refusal.
const SCALARS: Readonly<Record<string, readonly [jsType: string, want: string] | undefined>> = {
  bool: ['boolean', 'a boolean'],
  string: ['string', 'a string'],
  number: ['number', 'a number'],
};

/** Decodes `v` as `shape`. `undefined` means the Go zero value / nil. */
export function decodeValue(v: unknown, shape: Shape, field: string): unknown {
  if (v === null) return undefined; // callers keep the previous value for non-nullable shapes
  switch (shape) {
    case 'bool':
      return typeof v === 'boolean' ? v : typeError(field, jsonType(v), 'a boolean');
    case 'string':
      return typeof v === 'string' ? v : typeError(field, jsonType(v), 'a string');
    case 'number':
      return typeof v === 'number' ? v : typeError(field, jsonType(v), 'a number');
    case 'strslice':
      return typeof v === 'string' ? [v] : decodeSlice(v, 'string', field);
  }
  if ('slice' in shape) return decodeSlice(v, shape.slice, field);
  if ('map' in shape) return decodeMap(v, shape.map, field);
  return decodeStruct(v, shape, field);
}

function decodeSlice(v: unknown, elem: Shape, field: string): unknown[] {
  if (!Array.isArray(v)) return typeError(field, jsonType(v), 'an array');
  const out: unknown[] = [];
  const scalar = typeof elem === 'string' ? SCALARS[elem] : undefined;
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    if (item === null) out.push(zeroValue(elem));
    else if (!scalar) out.push(decodeValue(item, elem, `${field}[${i}]`));
    else if (typeof item === scalar[0]) out.push(item);
    else typeError(`${field}[${i}]`, jsonType(item), scalar[1]);
  }
  return out;
}

function decodeMap(v: unknown, elem: Shape, field: string): Map<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return typeError(field, jsonType(v), 'an object');
  const obj = v as Plain;
  const out = new Map<string, unknown>();
  const scalar = typeof elem === 'string' ? SCALARS[elem] : undefined;
  for (const key in obj) {
    if (startsWithDigit(key)) throw new Unproven(); // V8 may have moved it ahead of earlier keys
    const item = obj[key];
    if (item === null) out.set(key, undefined);
    else if (!scalar) out.set(key, decodeValue(item, elem, entryPath(field, key)));
    else if (typeof item === scalar[0]) out.set(key, item);
    else typeError(entryPath(field, key), jsonType(item), scalar[1]);
  }
  return out;
}

// The earlier of two keys that reached `field` (only needed to word the refusal).
function firstKeyFor(obj: Plain, table: FieldTable, field: Field): string {
  for (const key in obj) if (matchKey(table, key)?.field === field) return key;
  return '';
}

/** Decodes JSON.parse's value `v` as the Go struct `shape`, exactly as decodeStruct does the tree. */
export function decodeStruct(v: unknown, shape: StructShape, field: string): Decoded {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return typeError(field, jsonType(v), 'an object');
  const obj = v as Plain;
  const table = fieldTable(shape);
  const out: Decoded = {};
  // Fields already given in this object: a bit each for the first 31, a map for any beyond.
  let seen = 0;
  let seenMore: Map<Field, string> | undefined;
  let i = 0;
  for (const key in obj) {
    const match = matchAt(table, key, i++);
    if (!match) continue; // Go ignores unknown keys
    const f = match.field;
    const path = fieldPath(field, f.name);
    if (match.viaUnicode) unicodeFoldError(key, path);
    if (startsWithDigit(key)) throw new Unproven(); // not at its place in the text
    if (f.index < 31) {
      const bit = 1 << f.index;
      if (seen & bit) givenTwiceError(path, firstKeyFor(obj, table, f), key);
      seen |= bit;
    } else {
      seenMore ??= new Map();
      const previous = seenMore.get(f);
      if (previous !== undefined) givenTwiceError(path, previous, key);
      seenMore.set(f, key);
    }
    const decoded = decodeValue(obj[key], f.shape, path);
    if (decoded !== undefined || f.nullable) out[f.name] = decoded;
  }
  return out;
}
