import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { codes, codedError, type CodedError } from '../errors.js';
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

/** Parses and validates policy text (YAML, or JSON, which is YAML). Never throws. */
export function parsePolicy(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ ...at(e.pos[0]), message: e.message.split('\n')[0]! }));
    return { ok: false, error: codedError(codes.POLICY_SYNTAX, issues.map(formatIssue).join('\n')), issues };
  }
  const result = policySchema.safeParse(doc.toJS() ?? {});
  if (result.success) return { ok: true, policy: result.data, source: file, text };
  const issues = result.error.issues.map((issue) => {
    const node = nodeAt(doc.contents, issue.path);
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return { ...at(node?.range?.[0]), message: `${where}${issue.message}` };
  });
  return { ok: false, error: codedError(codes.POLICY_SCHEMA, issues.map(formatIssue).join('\n')), issues };
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
