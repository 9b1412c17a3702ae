import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { codes, codedError } from '../errors.js';
import { pathText, plainMessages } from './issue-text.js';
import { formatIssue, ruleNames, type LoadResult, type PolicyIssue } from './load.js';
import { policySchema } from './schema.js';

// The YAML parser and the policy schema: what reading a policy text takes, and most of what the
// plugin would load at start. The production bundle loads this module only when a text must be
// parsed (see parser.ts); the built-in default policy is put in force without it (precompiled.ts).

export { policySchema };

// Walks the YAML tree along a zod issue path to the node it is about (or the deepest that exists).
function nodeAt(root: unknown, path: readonly PropertyKey[]): Node | undefined {
  let node = root as Node | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node;
      node = (pair.value ?? pair.key) as Node;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg] as Node;
    } else {
      return node;
    }
  }
  return node;
}

function keyNode(root: unknown, path: readonly PropertyKey[], key: string | undefined): Node | undefined {
  const map = nodeAt(root, path);
  const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && String(p.key.value) === key) : undefined;
  return (pair?.key as Node | undefined) ?? map;
}

export type YamlResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly syntax: boolean; readonly issues: readonly PolicyIssue[] };

/**
 * Parses YAML (or JSON) text and validates it with `schema`, every problem at its file:line:col.
 * `where` names the place an issue is about (default: its path, `rules[0].kind`). Never throws.
 */
export function parseYaml<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  where: (path: readonly PropertyKey[], data: unknown) => string = (path) => pathText(path),
): YamlResult<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    return { ok: false, syntax: true, issues: doc.errors.map((e) => ({ ...at(e.pos[0]), message: e.message.split('\n')[0]! })) };
  }
  const data: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(data, { error: plainMessages });
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => {
    // An unknown key is shown where it is written, not where its mapping starts.
    const node = issue.code === 'unrecognized_keys' ? keyNode(doc.contents, issue.path, issue.keys[0]) : nodeAt(doc.contents, issue.path);
    const place = issue.path.length ? `${where(issue.path, data)}: ` : '';
    return { ...at(node?.range?.[0]), message: `${place}${issue.message}` };
  });
  return { ok: false, syntax: false, issues };
}

/** Where `path` (`['rules', 3]`) is in YAML text, as file:line:col (the deepest node that exists). */
export function locate(text: string, file: string, path: readonly PropertyKey[]): { file: string; line: number; col: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const { line, col } = lineCounter.linePos(nodeAt(doc.contents, path)?.range?.[0] ?? 0);
  return { file, line, col };
}

/** Names the place in a policy an issue is about: `rule no-swarm: operations[0]`, `hello.enabled`. */
function policyPlace(path: readonly PropertyKey[], data: unknown): string {
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const name = ruleNames((data as { rules?: unknown }).rules)[path[1]] ?? `#${path[1] + 1}`;
    const rest = path.slice(2);
    return `rule ${name}${rest.length ? `: ${pathText(rest)}` : ''}`;
  }
  return pathText(path);
}

/** Parses and validates policy text (YAML, or JSON, which is YAML). Never throws. */
export function parsePolicyText(text: string, file: string): LoadResult {
  const r = parseYaml(text, file, policySchema, policyPlace);
  if (r.ok) return { ok: true, policy: r.value, source: file, text };
  const code = r.syntax ? codes.POLICY_SYNTAX : codes.POLICY_SCHEMA;
  return { ok: false, error: codedError(code, r.issues.map(formatIssue).join('\n')), issues: r.issues };
}
