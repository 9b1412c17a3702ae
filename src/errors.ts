/**
 * Every error the plugin raises carries a stable code; messages may change, codes may not. The
 * codes appear in the decision log (`code`), in the CLI's output and in /health, and each is
 * documented in docs/errors.md (a test keeps the two in step).
 */
export const ERROR_CODES = {
  AUTHZ_CONFIG_INVALID: 'A configuration value (environment or env file) is invalid.',
  AUTHZ_POLICY_UNREADABLE: 'The policy file cannot be read.',
  AUTHZ_POLICY_SYNTAX: 'The policy file is not valid YAML or JSON.',
  AUTHZ_POLICY_SCHEMA: 'The policy file does not match the policy schema.',
  AUTHZ_REQUEST_MALFORMED: "The daemon's AuthZ call is not a well-formed request envelope.",
  AUTHZ_REQUEST_TOO_LARGE: 'An AuthZ call is larger than any daemon sends.',
  AUTHZ_URI_INVALID: 'The request URI is not one the daemon would route as the plugin reads it.',
  AUTHZ_OPERATION_UNKNOWN: 'The request matches no Docker Engine API operation.',
  AUTHZ_BODY_NOT_VISIBLE: 'The daemon did not show the plugin a request body it will act on.',
  AUTHZ_BODY_INVALID: 'The request body is not what the daemon would accept.',
  AUTHZ_BODY_AMBIGUOUS: 'The request body can be read more than one way.',
  AUTHZ_STATE_UNAVAILABLE: 'The state database cannot be opened, read or written.',
  AUTHZ_SOCKET_IN_USE: "Another process is already serving the plugin's socket.",
  AUTHZ_INTERNAL: 'An unexpected internal failure (a bug); the call is refused.',
  AUTHZ_PKI_FAILED: "The local PKI (the users' CA and certificates) could not be read or written.",
  AUTHZ_USER_INVALID: 'A user name is not valid, or the Unix account does not exist.',
  AUTHZ_POLICY_EDIT: 'A policy file edit (docker-authz users --group) could not be made or would make the policy invalid.',
  AUTHZ_DAEMON_REQUEST: 'A request the plugin made to the daemon (listing or inspecting objects) failed.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes by name, for call sites: `codes.BODY_INVALID` is 'AUTHZ_BODY_INVALID'. */
export const codes = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_CODES).map((c) => [c.slice('AUTHZ_'.length), c])) as {
    readonly [K in ErrorCode as K extends `AUTHZ_${infer N}` ? N : never]: K;
  },
);

export interface CodedError extends Error {
  readonly code: ErrorCode;
}

export function codedError(code: ErrorCode, message: string, cause?: unknown): CodedError {
  const err = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code: ErrorCode };
  err.code = code;
  return err;
}

export function isCodedError(err: unknown): err is CodedError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code in ERROR_CODES;
}
