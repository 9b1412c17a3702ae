import type { HostConfigFields } from '../../request/types.js';
import { firstInViews, quote, type CheckFactory } from './check.js';

const MODE_FIELD = {
  pid: 'PidMode',
  ipc: 'IpcMode',
  network: 'NetworkMode',
  uts: 'UTSMode',
  userns: 'UsernsMode',
  cgroup: 'CgroupnsMode',
} as const satisfies Record<string, keyof HostConfigFields>;

// The daemon compares with "host" exactly; a looser match only ever denies more.
const isHost = (mode: string | undefined): boolean => mode !== undefined && mode.trim().toLowerCase() === 'host';

export const hostNamespaces: CheckFactory<'host-namespaces'> = (rule) => {
  const fields = rule.namespaces.map((ns) => [ns, MODE_FIELD[ns]] as const);
  const network = rule.namespaces.includes('network');
  return function checkHostNamespaces(req) {
    if (network && req.subject.kind === 'build') {
      const mode = req.subject.query.get('networkmode') ?? undefined;
      if (isHost(mode)) return { field: 'networkmode', reason: `${quote(mode)} runs build steps in the host's network namespace` };
    }
    return firstInViews(req, ({ prefix, hc }) => {
      for (const [ns, field] of fields) {
        const mode = hc[field];
        if (isHost(mode)) return { field: `${prefix}${field}`, reason: `${quote(mode)} shares the host's ${ns} namespace` };
      }
      return undefined;
    });
  };
};
