import { firstInViews, quote, type CheckFactory, type Violation } from './check.js';

// "net.ipv4.*" matches a prefix; anything else matches exactly.
function sysctlMatcher(patterns: readonly string[]): (key: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (key) => exact.has(key) || prefixes.some((p) => key.startsWith(p));
}

// The build's `remote`: empty (the context is the request body) and "client-session" (BuildKit
// reads it from the client) fetch nothing; the daemon fetches git (`git://`, `git@`, `github.com/`,
// `*.git` URLs) and http(s) remotes, and refuses anything else, so anything else is refused too.
const isRemote = (v: string | null): v is string => v !== null && v !== '' && v !== 'client-session';

export const hostSettings: CheckFactory<'host-settings'> = (rule) => {
  const runtimes = new Set(rule.allowedRuntimes);
  // Names are exact, as the daemon's driver registry reads them: "JSON-FILE" is not json-file but a
  // plugin lookup.
  const logDrivers = new Set(rule.allowedLogDrivers);
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
      if (driver && !logDrivers.has(driver)) {
        return {
          field: `${prefix}LogConfig.Type`,
          reason: `${quote(driver)} sends logs off this host or loads a plugin (allowed log drivers: ${rule.allowedLogDrivers.join(', ')})`,
        };
      }
      for (const key of hc.Sysctls?.keys() ?? []) {
        if (!sysctlAllowed(key)) return { field: `${prefix}Sysctls[${quote(key)}]`, reason: 'sets a kernel parameter' };
      }
      return undefined;
    });
  };
};
