import { firstInViews, quote, type CheckFactory } from './check.js';

const JOINS = ['PidMode', 'IpcMode', 'NetworkMode', 'UTSMode', 'Cgroup'] as const;

// Joining another container's namespaces or volumes inherits whatever that container was given,
// including a container created before the plugin was installed.
export const sharedContainers: CheckFactory<'shared-containers'> = () =>
  function checkSharedContainers(req) {
    // The legacy builder runs its RUN steps with this network mode.
    const buildMode = req.subject.kind === 'build' ? req.subject.query.get('networkmode') : null;
    if (buildMode?.trim().toLowerCase().startsWith('container:')) {
      return { field: 'networkmode', reason: `${quote(buildMode)} runs build steps in another container's network namespace` };
    }
    return firstInViews(req, ({ prefix, hc }) => {
      const from = hc.VolumesFrom?.[0];
      if (from !== undefined) return { field: `${prefix}VolumesFrom[0]`, reason: `${quote(from)} mounts another container's volumes` };
      for (const field of JOINS) {
        const mode = hc[field];
        if (mode?.trim().toLowerCase().startsWith('container:'))
          return { field: `${prefix}${field}`, reason: `${quote(mode)} joins another container's namespace` };
      }
      return undefined;
    });
  };
