import { firstInViews, quote, type CheckFactory, type Violation } from './check.js';

// Returns why a --security-opt value weakens confinement, or undefined when it does not.
function weakening(opt: string): string | undefined {
  const sep = opt.search(/[=:]/);
  const key = (sep === -1 ? opt : opt.slice(0, sep)).trim().toLowerCase();
  const value = (sep === -1 ? '' : opt.slice(sep + 1)).trim().toLowerCase();
  switch (key) {
    case 'seccomp':
      // Any profile other than the built-in one may allow every syscall.
      return value === 'builtin' ? undefined : value === 'unconfined' ? 'disables seccomp' : 'replaces the seccomp profile';
    case 'apparmor':
      return value === 'unconfined' ? 'disables AppArmor' : value === 'docker-default' ? undefined : 'replaces the AppArmor profile';
    case 'label':
      return value === 'disable'
        ? 'disables SELinux labelling'
        : value.startsWith('type:')
          ? 'changes the SELinux process type'
          : undefined;
    case 'systempaths':
      return value === 'unconfined' ? 'unmasks /proc and /sys paths' : undefined;
    case 'no-new-privileges':
      return value === 'false' ? 'allows gaining privileges' : undefined;
    case 'disable': // the daemon reads a bare "disable" as label=disable
      return 'disables SELinux labelling';
    case 'writable-cgroups':
      return value === 'false' ? undefined : 'makes the cgroup filesystem writable';
    default:
      return undefined;
  }
}

export const securityOptions: CheckFactory<'security-options'> = () =>
  function checkSecurityOptions(req) {
    return firstInViews(req, ({ prefix, hc }): Violation | undefined => {
      const opts = hc.SecurityOpt ?? [];
      for (let i = 0; i < opts.length; i++) {
        const why = weakening(opts[i]!);
        if (why) return { field: `${prefix}SecurityOpt[${i}]`, reason: `${quote(opts[i])} ${why}` };
      }
      // A non-null list replaces the daemon's masked / read-only /proc paths.
      for (const key of ['MaskedPaths', 'ReadonlyPaths'] as const) {
        if (hc[key] !== undefined)
          return { field: `${prefix}${key}`, reason: `${quote(hc[key])} replaces the default protected /proc paths` };
      }
      return undefined;
    });
  };
