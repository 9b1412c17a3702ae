import type { DockerRequest, HostConfigView } from '../../request/types.js';
import type { RuleKind, RuleOf } from '../schema.js';

/** What a rule found: the field (as named in the request) and why it is refused. */
export interface Violation {
  readonly field: string;
  readonly reason: string;
}

/** Built once per rule when the policy is compiled; called per request with no I/O. */
export type Check = (req: DockerRequest) => Violation | undefined;
export type CheckFactory<K extends RuleKind> = (rule: RuleOf<K>) => Check;

export const quote = (v: unknown): string => JSON.stringify(v);

/** The HostConfig views of a container-shaped request (create, start with a body, update). */
export function hostConfigViews(req: DockerRequest): readonly HostConfigView[] {
  return req.subject.kind === 'container' ? req.subject.views : [];
}

/** Runs `check` over each view, returning the first violation. */
export function firstInViews(req: DockerRequest, check: (v: HostConfigView) => Violation | undefined): Violation | undefined {
  for (const view of hostConfigViews(req)) {
    const found = check(view);
    if (found) return found;
  }
  return undefined;
}
