import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { codes, codedError, type CodedError } from '../errors.js';
import { policyParser } from './parser.js';
import { precompiledPolicy } from './precompiled.js';
import type { Policy } from './schema.js';

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

/**
 * Parses and validates policy text (YAML, or JSON, which is YAML). Never throws. The text of the
 * built-in default policy is not parsed again: the build has (precompiled.ts).
 */
export function parsePolicy(text: string, file: string): LoadResult {
  const policy = precompiledPolicy(text);
  return policy ? { ok: true, policy, source: file, text } : policyParser().parsePolicyText(text, file);
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
