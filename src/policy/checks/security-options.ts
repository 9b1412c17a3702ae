import { parseGoBool } from '../../request/go-values.js';
import { firstInViews, flagged, quote, shown, type CheckFactory, type Violation } from './check.js';

/**
 * Why a --security-opt value weakens confinement, or undefined when it does not. Read as the
 * daemon's parseSecurityOpt reads it (daemon/daemon_unix.go): `no-new-privileges` and `disable`
 * alone; otherwise split at the first '=' if there is one, else at the first ':'; keys compared
 * exactly; `no-new-privileges` and `writable-cgroups` values read with strconv.ParseBool. A value
 * the daemon refuses (an unknown key, a bad boolean) is refused here too: newer daemons accept
 * keys older ones did not.
 */
export function weakening(opt: string): string | undefined {
  if (opt === 'no-new-privileges') return undefined;
  if (opt === 'disable') return 'disables SELinux labelling (the daemon reads it as label=disable)';
  const sep = opt.includes('=') ? opt.indexOf('=') : opt.indexOf(':');
  if (sep === -1) return 'is not an option the daemon accepts';
  const key = opt.slice(0, sep);
  const value = opt.slice(sep + 1);
  switch (key) {
    case 'seccomp':
      // Empty: the daemon's own profile. Anything else but the built-in one may allow every syscall.
      return value === '' || value === 'builtin' ? undefined : value === 'unconfined' ? 'disables seccomp' : 'replaces the seccomp profile';
    case 'apparmor':
      // Profile names are case-sensitive: only the default profile (or none given) is confinement we know.
      return value === '' || value === 'docker-default'
        ? undefined
        : value === 'unconfined'
          ? 'disables AppArmor'
          : 'replaces the AppArmor profile';
    case 'label':
      // disable, or a chosen user, role, type or level (MCS categories): each changes what the process may touch.
      return value === 'disable' ? 'disables SELinux labelling' : 'changes the SELinux context';
    case 'no-new-privileges': {
      const on = parseGoBool(value);
      return on === true
        ? undefined
        : on === false
          ? 'turns off no-new-privileges (lets processes gain privileges)'
          : 'is not a boolean the daemon reads';
    }
    case 'writable-cgroups': {
      const on = parseGoBool(value);
      return on === false ? undefined : on === true ? 'makes the cgroup filesystem writable' : 'is not a boolean the daemon reads';
    }
    case 'systempaths':
      return value === 'unconfined' ? 'unmasks /proc and /sys paths' : 'is not an option the daemon accepts';
    default:
      return 'is not an option the daemon accepts';
  }
}

export const securityOptions: CheckFactory<'security-options'> = () =>
  function checkSecurityOptions(req) {
    return firstInViews(req, ({ prefix, hc }): Violation | undefined => {
      const opts = hc.SecurityOpt ?? [];
      for (let i = 0; i < opts.length; i++) {
        const why = weakening(opts[i]!);
        if (why) return { field: flagged(`--security-opt ${shown(opts[i])}`, prefix, `SecurityOpt[${i}]`), reason: why };
      }
      // A non-null list replaces the daemon's masked / read-only /proc paths. The docker CLI sends
      // empty lists for --security-opt systempaths=unconfined; other lists come from API clients.
      for (const key of ['MaskedPaths', 'ReadonlyPaths'] as const) {
        const paths = hc[key];
        if (paths === undefined) continue;
        const flag = paths.length === 0 ? '--security-opt systempaths=unconfined' : `the list ${quote(paths)}`;
        return { field: flagged(flag, prefix, key), reason: 'replaces the default protected /proc paths' };
      }
      return undefined;
    });
  };
