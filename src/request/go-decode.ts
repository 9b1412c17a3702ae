import {
  entryPath,
  fieldPath,
  fieldTable,
  givenTwiceError,
  matchAt,
  typeError as goTypeError,
  unicodeFoldError,
  zeroValue,
} from './go-fields.js';
import type { JsonNode } from './json-parse.js';

// The reference decoder: a JsonNode tree (json-parse.ts) into the Go struct the daemon decodes it
// into. The plugin runs text-decode.ts, which must give exactly these answers (the differential
// test in test/unit/request/text-decode.test.ts); this one is written to be read. encoding/json's rules:
// - a key matches a field case-insensitively (Go also folds 'ſ'→s and 'K'→k; 'ı' is refused too,
//   to be safe across Go versions);
// - `null` clears pointers, slices and maps, and leaves bools, strings, numbers and structs alone;
// - a value of the wrong JSON type makes the daemon reject the request.
// Two keys that land on the same field would make the result depend on Go's version and on
// merge rules, and no client sends them, so they are refused as ambiguous. So is a key that only
// matches through a non-ASCII fold: Go versions disagree on those.

export type Shape =
  | 'bool'
  | 'string'
  | 'number'
  /** strslice.StrSlice: a list of strings, or one bare string. */
  | 'strslice'
  | { readonly slice: Shape }
  | { readonly map: Shape }
  | StructShape;

export interface StructShape {
  readonly struct: Readonly<Record<string, Shape>>;
  /** The daemon declares this field as a pointer (`*T`): `null` resets it. */
  readonly pointer?: boolean;
}

export type Decoded = Record<string, unknown>;

const GO_TYPE: Record<JsonNode['t'], string> = {
  null: 'null',
  bool: 'bool',
  num: 'number',
  str: 'string',
  arr: 'array',
  obj: 'object',
};

const typeError = (field: string, node: JsonNode, want: string): never => goTypeError(field, GO_TYPE[node.t], want);

/** Decodes `node` as `shape`. `undefined` means the Go zero value / nil. */
export function decodeValue(node: JsonNode, shape: Shape, field: string): unknown {
  if (node.t === 'null') return undefined; // callers keep the previous value for non-nullable shapes
  if (shape === 'bool') return node.t === 'bool' ? node.v : typeError(field, node, 'a boolean');
  if (shape === 'string') return node.t === 'str' ? node.v : typeError(field, node, 'a string');
  if (shape === 'number') return node.t === 'num' ? Number(node.raw) : typeError(field, node, 'a number');
  if (shape === 'strslice') return node.t === 'str' ? [node.v] : decodeValue(node, { slice: 'string' }, field);
  if ('slice' in shape) {
    if (node.t !== 'arr') return typeError(field, node, 'an array');
    return node.items.map((item, i) => (item.t === 'null' ? zeroValue(shape.slice) : decodeValue(item, shape.slice, `${field}[${i}]`)));
  }
  if ('map' in shape) {
    if (node.t !== 'obj') return typeError(field, node, 'an object');
    // Map keys are exact in Go; a repeated key is simply overwritten by the later one.
    const out = new Map<string, unknown>();
    for (const [k, v] of node.entries) out.set(k, decodeValue(v, shape.map, entryPath(field, k)));
    return out;
  }
  return decodeStruct(node, shape, field);
}

/** Decodes a JsonNode tree as the Go struct `shape` (the reference decoder; see json-body.ts). */
export function decodeStruct(node: JsonNode, shape: StructShape, field: string): Decoded {
  if (node.t !== 'obj') return typeError(field, node, 'an object');
  const table = fieldTable(shape);
  const out: Decoded = {};
  const seen = new Map<string, string>();
  let i = 0;
  for (const [key, value] of node.entries) {
    const match = matchAt(table, key, i++);
    if (!match) continue; // Go ignores unknown keys
    const { name, shape: fieldShape, nullable } = match.field;
    const path = fieldPath(field, name);
    if (match.viaUnicode) unicodeFoldError(key, path);
    const previous = seen.get(name);
    if (previous !== undefined) givenTwiceError(path, previous, key);
    seen.set(name, key);
    const decoded = decodeValue(value, fieldShape, path);
    if (decoded !== undefined || nullable) out[name] = decoded;
  }
  return out;
}
