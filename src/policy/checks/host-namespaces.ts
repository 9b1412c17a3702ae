import type { HostConfigFields } from '../../request/types.js';
import { firstInViews, flagged, shown, type CheckFactory } from './check.js';

const MODE_FIELD = {
  pid: ['PidMode', '--pid'],
  ipc: ['IpcMode', '--ipc'],
  network: ['NetworkMode', '--network'],
  uts: ['UTSMode', '--uts'],
  userns: ['UsernsMode', '--userns'],
  cgroup: ['CgroupnsMode', '--cgroupns'],
} as const satisfies Record<string, readonly [keyof HostConfigFields, string]>;

// The daemon compares with "host" exactly; a looser match only ever denies more.
const isHost = (mode: string | undefined): boolean => mode !== undefined && mode.trim().toLowerCase() === 'host';

export const hostNamespaces: CheckFactory<'host-namespaces'> = (rule) => {
  const fields = rule.namespaces.map((ns) => [ns, ...MODE_FIELD[ns]] as const);
  const network = rule.namespaces.includes('network');
  return function checkHostNamespaces(req) {
    if (network && req.subject.kind === 'build') {
      const mode = req.subject.query.get('networkmode') ?? undefined;
      if (isHost(mode)) {
        return { field: `docker build --network ${shown(mode)} (networkmode)`, reason: "runs build steps in the host's network namespace" };
      }
    }
    return firstInViews(req, ({ prefix, hc }) => {
      for (const [ns, field, flag] of fields) {
        const mode = hc[field];
        if (isHost(mode)) return { field: flagged(`${flag} ${shown(mode)}`, prefix, field), reason: `shares the host's ${ns} namespace` };
      }
      return undefined;
    });
  };
};
