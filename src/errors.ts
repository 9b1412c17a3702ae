// Every error the plugin raises carries a stable code; messages may change, codes may not.
export const codes = {
  CONFIG_INVALID: 'AUTHZ_CONFIG_INVALID',
  POLICY_UNREADABLE: 'AUTHZ_POLICY_UNREADABLE',
  POLICY_SYNTAX: 'AUTHZ_POLICY_SYNTAX',
  POLICY_SCHEMA: 'AUTHZ_POLICY_SCHEMA',
  REQUEST_MALFORMED: 'AUTHZ_REQUEST_MALFORMED',
  URI_INVALID: 'AUTHZ_URI_INVALID',
  OPERATION_UNKNOWN: 'AUTHZ_OPERATION_UNKNOWN',
  BODY_NOT_VISIBLE: 'AUTHZ_BODY_NOT_VISIBLE',
  BODY_INVALID: 'AUTHZ_BODY_INVALID',
  BODY_AMBIGUOUS: 'AUTHZ_BODY_AMBIGUOUS',
  INTERNAL: 'AUTHZ_INTERNAL',
  DAEMON_REQUEST: 'AUTHZ_DAEMON_REQUEST',
} as const;

export type ErrorCode = (typeof codes)[keyof typeof codes];

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
  return typeof code === 'string' && code.startsWith('AUTHZ_');
}
