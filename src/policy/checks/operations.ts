import type { CheckFactory } from './check.js';

/** Compiles operation globs (`swarm.*`, `*`) into one anchored matcher. */
export function operationMatcher(globs: readonly string[]): (op: string) => boolean {
  const source = globs
    .map((g) =>
      g
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*'),
    )
    .join('|');
  const re = new RegExp(`^(?:${source})$`);
  return (op) => re.test(op);
}

export const operations: CheckFactory<'operations'> = (rule) => {
  const matches = operationMatcher(rule.operations);
  return function checkOperations(req) {
    return matches(req.op)
      ? { field: 'operation', reason: `${req.op} is ${rule.effect === 'allow' ? 'allowed' : 'not allowed'}` }
      : undefined;
  };
};
