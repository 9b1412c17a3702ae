import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { codes, codedError, type CodedError } from '../errors.js';
import { pathText, plainMessages } from './issue-text.js';
import { policySchema, type Policy } from './schema.js';

export interface PolicyIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** Which file was read: a replacement (rename) gives the path a new inode; an in-place edit does not. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export type LoadResult =
  | { readonly ok: true; readonly policy: Policy; readonly source: string; readonly text: string; readonly file?: FileIdentity }
  | { readonly ok: false; readonly error: CodedError; readonly issues: readonly PolicyIssue[]; readonly file?: FileIdentity };

export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../policy/default.yaml', import.meta.url));

export const formatIssue = (i: PolicyIssue): string => `${i.file}:${i.line}:${i.col}: ${i.message}`;

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

/**
 * How messages name a policy's rule: by its id, or when it has no usable id (missing, invalid, or
 * the same as an earlier rule's) as `kind#n` (`#n` without a kind), n its position in `rules:`
 * counted from 1.
 */
export function ruleNames(rules: unknown): string[] {
  if (!Array.isArray(rules)) return [];
  const seen = new Set<string>();
  return rules.map((raw: unknown, i) => {
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as { id?: unknown; kind?: unknown };
    if (typeof r.id === 'string' && /^[a-z0-9][a-z0-9._-]*$/i.test(r.id) && !seen.has(r.id)) {
      seen.add(r.id);
      return r.id;
    }
    return `${typeof r.kind === 'string' ? r.kind : ''}#${i + 1}`;
  });
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
export function parsePolicy(text: string, file: string): LoadResult {
  const r = parseYaml(text, file, policySchema, policyPlace);
  if (r.ok) return { ok: true, policy: r.value, source: file, text };
  const code = r.syntax ? codes.POLICY_SYNTAX : codes.POLICY_SCHEMA;
  return { ok: false, error: codedError(code, r.issues.map(formatIssue).join('\n')), issues: r.issues };
}

/** Reads a policy file (an absent path means the built-in default policy), noting which file it was. */
export function loadPolicyFile(file: string | undefined): LoadResult {
  const path = file ?? DEFAULT_POLICY_FILE;
  let text: string;
  let identity: FileIdentity;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    text = readFileSync(fd, 'utf8');
  } catch (err) {
    const message = `cannot read policy: ${(err as Error).message}`;
    const issue = { file: path, line: 1, col: 1, message };
    return { ok: false, error: codedError(codes.POLICY_UNREADABLE, formatIssue(issue), err), issues: [issue] };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { ...parsePolicy(text, path), file: identity };
}
