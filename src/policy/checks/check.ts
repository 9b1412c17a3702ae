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

/** A value as it reads after its flag: bare when it is a plain word or path, JSON-quoted otherwise. */
export const shown = (v: unknown): string => (typeof v === 'string' && /^[\w./:=,@+-]{1,200}$/.test(v) ? v : quote(v));

/** A list of what a rule allows, for a denial: `runc, crun`, or `none`. */
export const allowedList = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'none');

/**
 * How a denial names what it refuses: the docker CLI flag (with its value where that reads well),
 * then the API field in parentheses: `--cap-add SYS_ADMIN (HostConfig.CapAdd[0])`. A view prefix
 * that is not part of the API path (a scan's `volume "data" (at /d): `) comes first.
 */
export function flagged(flag: string, prefix: string, field: string): string {
  const label = prefix.endsWith(': ') ? prefix : '';
  return `${label}${flag} (${label ? '' : prefix}${field})`;
}

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
