import { codes, codedError } from '../errors.js';

// A JSON tree that keeps what JSON.parse throws away: every key of an object, in order, duplicates
// included. The daemon decodes with Go's encoding/json, where a duplicate or differently-cased key
// can change the result, so the plugin must see all of them. This tree and go-decode.ts are the
// reference the plugin's one-pass decoder (text-decode.ts) is tested against.
export type JsonNode =
  | { readonly t: 'null' }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'arr'; readonly items: readonly JsonNode[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, JsonNode])[] };

export const MAX_DEPTH = 256;

const NULL: JsonNode = { t: 'null' };
const TRUE: JsonNode = { t: 'bool', v: true };
const FALSE: JsonNode = { t: 'bool', v: false };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

function fail(msg: string, pos: number): never {
  throw codedError(codes.BODY_INVALID, `invalid JSON at offset ${pos}: ${msg}`);
}

/**
 * Parses the first JSON value of `text`, as Go's json.Decoder does. Trailing data after that value
 * is reported in `rest` (the daemon ignores it; callers decide whether it is suspicious).
 */
export function parseJson(text: string): { value: JsonNode; rest: string } {
  let pos = 0;

  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };

  const str = (): string => {
    pos++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_STRING.lastIndex = pos;
      PLAIN_STRING.exec(text);
      out += text.slice(pos, PLAIN_STRING.lastIndex);
      pos = PLAIN_STRING.lastIndex;
      const c = text[pos];
      if (c === '"') {
        pos++;
        return out;
      }
      if (c !== '\\') fail(c === undefined ? 'unterminated string' : 'control character in string', pos);
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape', pos);
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail('bad escape', pos - 1);
      }
    }
  };

  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep', pos);
    ws();
    const c = text[pos];
    switch (c) {
      case '{': {
        pos++;
        const entries: [string, JsonNode][] = [];
        ws();
        if (text[pos] === '}') {
          pos++;
          return { t: 'obj', entries };
        }
        for (;;) {
          ws();
          if (text[pos] !== '"') fail('expected object key', pos);
          const key = str();
          ws();
          if (text[pos] !== ':') fail("expected ':'", pos);
          pos++;
          entries.push([key, value(depth + 1)]);
          ws();
          const sep = text[pos++];
          if (sep === '}') return { t: 'obj', entries };
          if (sep !== ',') fail("expected ',' or '}'", pos - 1);
        }
      }
      case '[': {
        pos++;
        const items: JsonNode[] = [];
        ws();
        if (text[pos] === ']') {
          pos++;
          return { t: 'arr', items };
        }
        for (;;) {
          items.push(value(depth + 1));
          ws();
          const sep = text[pos++];
          if (sep === ']') return { t: 'arr', items };
          if (sep !== ',') fail("expected ',' or ']'", pos - 1);
        }
      }
      case '"':
        return { t: 'str', v: str() };
      case 't':
        if (text.startsWith('true', pos)) {
          pos += 4;
          return TRUE;
        }
        break;
      case 'f':
        if (text.startsWith('false', pos)) {
          pos += 5;
          return FALSE;
        }
        break;
      case 'n':
        if (text.startsWith('null', pos)) {
          pos += 4;
          return NULL;
        }
        break;
      default: {
        NUMBER.lastIndex = pos;
        const m = NUMBER.exec(text);
        if (m) {
          pos = NUMBER.lastIndex;
          return { t: 'num', raw: m[0] };
        }
      }
    }
    return fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`, pos);
  };

  const root = value(0);
  ws();
  return { value: root, rest: text.slice(pos) };
}
