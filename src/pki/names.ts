/**
 * User names: the Unix account, the certificate's CN (the identity the plugin sees), the socket's
 * file name and a directory name in the PKI, so they are held to the portable POSIX subset.
 */
export const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

export function userNameProblem(name: string): string | undefined {
  if (!USER_NAME.test(name))
    return `"${name}" is not a valid user name (letters, digits, "_", "." and "-", at most 32, not starting with a digit, "." or "-")`;
  return undefined;
}

/** Group names as `users add --group` accepts them (the policy itself allows any non-empty string). */
export const GROUP_NAME = /^[a-z0-9_][a-z0-9_.-]{0,63}$/i;
