import type { DockerRequest, HostConfigView } from '../../request/types.js';
import type { CompiledRule } from '../compile.js';
import type { Policy, RuleKind, RuleOf } from '../schema.js';
import type { StateView } from '../state-view.js';

/** What a rule found: the field (as named in the request) and why it is refused. */
export interface Violation {
  readonly field: string;
  readonly reason: string;
}

/** Built once per rule when the policy is compiled; called per request with no I/O but state reads. */
// `state` is absent where nothing is recorded (explain, unit tests): a rule that must read it refuses.
export type Check = (req: DockerRequest, state?: StateView) => Violation | undefined;

/** What a rule may know of the policy it is compiled in. */
export interface CompileContext {
  readonly groups: Policy['groups'];
  /** The policy's compiled rules (once compilation is done), for rules that judge with the others. */
  readonly rules: () => readonly CompiledRule[];
}

export type CheckFactory<K extends RuleKind> = (rule: RuleOf<K>, ctx?: CompileContext) => Check;

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
