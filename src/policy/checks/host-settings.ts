import { firstInViews, quote, type CheckFactory, type Violation } from './check.js';

// "net.ipv4.*" matches a prefix; anything else matches exactly.
function sysctlMatcher(patterns: readonly string[]): (key: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (key) => exact.has(key) || prefixes.some((p) => key.startsWith(p));
}

// A URL the daemon would fetch: http(s) and git remotes, not "-" (the request body) or a local name.
const isRemote = (v: string | null): v is string => v !== null && /^(https?:\/\/|git@|git:\/\/|github\.com\/)/i.test(v.trim());

export const hostSettings: CheckFactory<'host-settings'> = (rule) => {
  const runtimes = new Set(rule.allowedRuntimes);
  const logDrivers = new Set(rule.allowedLogDrivers.map((d) => d.toLowerCase()));
  const sysctlAllowed = sysctlMatcher(rule.allowedSysctls);

  return function checkHostSettings(req): Violation | undefined {
    const s = req.subject;
    if (s.kind === 'build') {
      const parent = s.query.get('cgroupparent');
      if (!rule.allowCgroupParent && parent)
        return { field: 'cgroupparent', reason: `${quote(parent)} places build containers outside Docker's cgroup` };
      const remote = s.query.get('remote');
      if (!rule.allowRemoteFetch && isRemote(remote))
        return { field: 'remote', reason: `${quote(remote)} makes the daemon fetch a remote build context` };
      return undefined;
    }
    if (s.kind === 'image-create') {
      const src = s.query.get('fromSrc');
      if (!rule.allowRemoteFetch && src !== null && src !== '-')
        return { field: 'fromSrc', reason: `${quote(src)} makes the daemon fetch a URL` };
      return undefined;
    }
    return firstInViews(req, ({ prefix, hc }) => {
      if (!rule.allowCgroupParent && hc.CgroupParent) {
        return { field: `${prefix}CgroupParent`, reason: `${quote(hc.CgroupParent)} places the container outside Docker's cgroup` };
      }
      if (hc.Runtime && !runtimes.has(hc.Runtime))
        return { field: `${prefix}Runtime`, reason: `${quote(hc.Runtime)} is not an allowed runtime` };
      const driver = hc.LogConfig?.Type;
      if (driver && !logDrivers.has(driver.trim().toLowerCase())) {
        return { field: `${prefix}LogConfig.Type`, reason: `${quote(driver)} sends logs off this host` };
      }
      for (const key of hc.Sysctls?.keys() ?? []) {
        if (!sysctlAllowed(key)) return { field: `${prefix}Sysctls[${quote(key)}]`, reason: 'sets a kernel parameter' };
      }
      return undefined;
    });
  };
};
