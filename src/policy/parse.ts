import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { codes, codedError } from '../errors.js';
import { formatIssue, type LoadResult } from './load.js';
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

/** Parses and validates policy text (YAML, or JSON, which is YAML). Never throws. */
export function parsePolicyText(text: string, file: string): LoadResult {
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
