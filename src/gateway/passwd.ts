import { execFile } from 'node:child_process';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/**
 * Looks accounts up in the system's user database (`getent passwd`: /etc/passwd, LDAP, sssd, ...
 * whatever NSS is configured with). Names that do not exist are absent from the result.
 */
export function lookupAccounts(names: readonly string[]): Promise<Map<string, Account>> {
  const found = new Map<string, Account>();
  if (names.length === 0) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    execFile('getent', ['passwd', ...names], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      // Exit status 2: one or more names were not found; the others are still printed.
      const status = (err as { code?: unknown } | null)?.code;
      if (err && status !== 2) return reject(new Error(`getent passwd failed: ${err.message}`));
      for (const line of stdout.split('\n')) {
        const [name, , uid, gid, , home] = line.split(':');
        if (name === undefined || !names.includes(name) || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) continue;
        found.set(name, { name, uid: Number(uid), gid: Number(gid), home: home ?? '' });
      }
      resolve(found);
    });
  });
}
