import { allowedList, firstInViews, flagged, shown, type CheckFactory, type Violation } from './check.js';

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
      if (!rule.allowCgroupParent && parent) {
        return {
          field: `docker build --cgroup-parent ${shown(parent)} (cgroupparent)`,
          reason: "places build containers outside Docker's cgroup (allowCgroupParent is off)",
        };
      }
      const remote = s.query.get('remote');
      if (!rule.allowRemoteFetch && isRemote(remote)) {
        return {
          field: `docker build ${shown(remote)} (remote)`,
          reason: 'makes the daemon fetch a remote build context (allowRemoteFetch is off)',
        };
      }
      return undefined;
    }
    if (s.kind === 'image-create') {
      const src = s.query.get('fromSrc');
      if (!rule.allowRemoteFetch && src !== null && src !== '-')
        return { field: `docker import ${shown(src)} (fromSrc)`, reason: 'makes the daemon fetch a URL (allowRemoteFetch is off)' };
      return undefined;
    }
    return firstInViews(req, ({ prefix, hc }) => {
      if (!rule.allowCgroupParent && hc.CgroupParent) {
        return {
          field: flagged(`--cgroup-parent ${shown(hc.CgroupParent)}`, prefix, 'CgroupParent'),
          reason: "places the container outside Docker's cgroup (allowCgroupParent is off)",
        };
      }
      if (hc.Runtime && !runtimes.has(hc.Runtime)) {
        return {
          field: flagged(`--runtime ${shown(hc.Runtime)}`, prefix, 'Runtime'),
          reason: `is not an allowed runtime (allowed runtimes: ${allowedList(rule.allowedRuntimes)})`,
        };
      }
      const driver = hc.LogConfig?.Type;
      if (driver && !logDrivers.has(driver)) {
        return {
          field: flagged(`--log-driver ${shown(driver)}`, prefix, 'LogConfig.Type'),
          reason: `sends logs off this host or loads a plugin (allowed log drivers: ${allowedList(rule.allowedLogDrivers)})`,
        };
      }
      for (const key of hc.Sysctls?.keys() ?? []) {
        if (!sysctlAllowed(key)) {
          return {
            field: flagged(`--sysctl ${shown(key)}`, prefix, `Sysctls[${JSON.stringify(key)}]`),
            reason: `sets a kernel parameter that is not allowed (allowed sysctls: ${allowedList(rule.allowedSysctls)})`,
          };
        }
      }
      return undefined;
    });
  };
};
