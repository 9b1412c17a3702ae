import type { ErrorCode } from '../errors.js';

/**
 * Rules that are not in any policy file: checks that come before the policy, and the denials for
 * requests the plugin cannot judge. Their ids appear in denials and in the decision log like a
 * policy rule's.
 */
export const BUILT_IN_RULES = {
  'request-integrity': 'The call cannot be read as the operation the daemon will perform (malformed, hidden, ambiguous or invalid input).',
  'unknown-operation': 'The request matches no Docker Engine API route this plugin knows.',
  'policy-invalid': 'No valid policy could be loaded: everything but the ping and version calls is refused.',
  'self-protection': 'The plugin API may not disable, remove or replace this authorization plugin.',
  'api-version': 'API versions older than the policy allows carry other semantics.',
  hello: 'Nobody gets the API until they have said hello.',
  'internal-error': 'The plugin failed while deciding (a bug); the request is refused.',
  'plugin-self': "Allows the plugin's own read-only calls to the daemon (they carry a secret only the plugin knows).",
} as const;

export type BuiltInRule = keyof typeof BUILT_IN_RULES;

export type Decision =
  | {
      readonly allow: true;
      /** The allow rule that matched, if one did. */
      readonly rule?: string;
      /** What would have denied it, had the gate or the rule not been in audit mode. */
      readonly audit?: { readonly rule: string; readonly message: string };
    }
  | { readonly allow: false; readonly rule: string; readonly message: string; readonly audit?: undefined };

/** The one way to build a denial: the rule's id first, then what was found. */
export function deny(rule: string, detail: string): Extract<Decision, { allow: false }> {
  return { allow: false, rule, message: `denied by rule ${rule}: ${detail}` };
}

/** The built-in rule that refuses a request the plugin could not turn into an operation. */
export function ruleForError(code: ErrorCode): BuiltInRule {
  return code === 'AUTHZ_OPERATION_UNKNOWN' ? 'unknown-operation' : 'request-integrity';
}
