import type { JsonNode } from './json-parse.js';

/**
 * A parsed JSON value (from JSON.parse, e.g. a daemon's inspect output) as a JsonNode, so that it
 * can be decoded with the same shapes and Go rules as a request body.
 */
export function jsonNodeOf(value: unknown): JsonNode {
  if (value === null || value === undefined) return { t: 'null' };
  if (typeof value === 'boolean') return { t: 'bool', v: value };
  if (typeof value === 'number') return { t: 'num', raw: String(value) };
  if (typeof value === 'string') return { t: 'str', v: value };
  if (Array.isArray(value)) return { t: 'arr', items: value.map(jsonNodeOf) };
  if (typeof value === 'object') return { t: 'obj', entries: Object.entries(value).map(([k, v]) => [k, jsonNodeOf(v)] as const) };
  throw new TypeError(`not a JSON value: ${typeof value}`);
}
