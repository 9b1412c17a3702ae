import { firstInViews, flagged, shown, type CheckFactory } from './check.js';

// Cgroup has no docker run flag: API clients set it.
const JOINS = [
  ['PidMode', '--pid'],
  ['IpcMode', '--ipc'],
  ['NetworkMode', '--network'],
  ['UTSMode', '--uts'],
  ['Cgroup', 'cgroup'],
] as const;

// Joining another container's namespaces or volumes inherits whatever that container was given,
// including a container created before the plugin was installed.
export const sharedContainers: CheckFactory<'shared-containers'> = () =>
  function checkSharedContainers(req) {
    // The legacy builder runs its RUN steps with this network mode.
    const buildMode = req.subject.kind === 'build' ? req.subject.query.get('networkmode') : null;
    if (buildMode?.trim().toLowerCase().startsWith('container:')) {
      return {
        field: `docker build --network ${shown(buildMode)} (networkmode)`,
        reason: "runs build steps in another container's network namespace",
      };
    }
    return firstInViews(req, ({ prefix, hc }) => {
      const from = hc.VolumesFrom?.[0];
      if (from !== undefined) {
        return { field: flagged(`--volumes-from ${shown(from)}`, prefix, 'VolumesFrom[0]'), reason: "mounts another container's volumes" };
      }
      for (const [field, flag] of JOINS) {
        const mode = hc[field];
        if (mode?.trim().toLowerCase().startsWith('container:'))
          return { field: flagged(`${flag} ${shown(mode)}`, prefix, field), reason: "joins another container's namespace" };
      }
      return undefined;
    });
  };
