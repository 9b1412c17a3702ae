import { codes, codedError } from '../errors.js';
import type { JsonNode } from './json-parse.js';

// Decodes a JsonNode into the Go struct the daemon decodes it into, with encoding/json's rules:
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

interface CompiledStruct {
  readonly byFold: ReadonlyMap<string, readonly [string, Shape]>;
}

const compiledStructs = new WeakMap<StructShape, CompiledStruct>();

function compiled(shape: StructShape): CompiledStruct {
  let c = compiledStructs.get(shape);
  if (!c) {
    c = { byFold: new Map(Object.entries(shape.struct).map(([name, s]) => [name.toLowerCase(), [name, s] as const])) };
    compiledStructs.set(shape, c);
  }
  return c;
}

// The non-ASCII characters that some Go version folds onto an ASCII letter.
const NON_ASCII_FOLDS: Readonly<Record<string, string>> = { '\u017f': 's', '\u212a': 'k', '\u0131': 'i' };

function foldKey(key: string): { folded: string; viaUnicode: boolean } {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(key)) return { folded: key.toLowerCase(), viaUnicode: false };
  let folded = '';
  let viaUnicode = false;
  for (const ch of key) {
    const f = NON_ASCII_FOLDS[ch];
    if (f !== undefined) viaUnicode = true;
    folded += f ?? ch.toLowerCase();
  }
  return { folded, viaUnicode };
}

const GO_TYPE: Record<JsonNode['t'], string> = {
  null: 'null',
  bool: 'bool',
  num: 'number',
  str: 'string',
  arr: 'array',
  obj: 'object',
};

function typeError(field: string, node: JsonNode, want: string): never {
  throw codedError(codes.BODY_INVALID, `${field || 'body'} is a JSON ${GO_TYPE[node.t]} where the daemon expects ${want}`);
}

function isNullable(shape: Shape): boolean {
  return (
    shape === 'strslice' ||
    (typeof shape === 'object' && ('slice' in shape || 'map' in shape || ('struct' in shape && shape.pointer === true)))
  );
}

// What Go leaves in a slice element given `null`: the element type's zero value.
function zeroValue(shape: Shape): unknown {
  if (shape === 'string') return '';
  if (shape === 'bool') return false;
  if (shape === 'number') return 0;
  return typeof shape === 'object' && 'struct' in shape && !shape.pointer ? {} : undefined;
}

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
    for (const [k, v] of node.entries) out.set(k, decodeValue(v, shape.map, `${field}[${JSON.stringify(k)}]`));
    return out;
  }
  return decodeStruct(node, shape, field);
}

export function decodeStruct(node: JsonNode, shape: StructShape, field: string): Decoded {
  if (node.t !== 'obj') return typeError(field, node, 'an object');
  const { byFold } = compiled(shape);
  const out: Decoded = {};
  const seen = new Map<string, string>();
  for (const [key, value] of node.entries) {
    const { folded, viaUnicode } = foldKey(key);
    const match = byFold.get(folded);
    if (!match) continue; // Go ignores unknown keys
    const [name, fieldShape] = match;
    const path = field ? `${field}.${name}` : name;
    if (viaUnicode) {
      throw codedError(codes.BODY_AMBIGUOUS, `key ${JSON.stringify(key)} reaches ${path} only through Unicode case folding`);
    }
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw codedError(codes.BODY_AMBIGUOUS, `${path} is given twice (${JSON.stringify(previous)} and ${JSON.stringify(key)})`);
    }
    seen.set(name, key);
    const decoded = decodeValue(value, fieldShape, path);
    if (decoded !== undefined || isNullable(fieldShape)) out[name] = decoded;
  }
  return out;
}
