import { firstInViews, flagged, type CheckFactory } from './check.js';

export const privileged: CheckFactory<'privileged'> = () =>
  function checkPrivileged(req) {
    if (req.subject.kind === 'exec' && req.subject.privileged) {
      return { field: 'docker exec --privileged (Privileged)', reason: 'runs the exec process with all privileges on the host' };
    }
    return firstInViews(req, ({ prefix, hc }) =>
      hc.Privileged === true
        ? { field: flagged('--privileged', prefix, 'Privileged'), reason: 'gives the container full access to the host' }
        : undefined,
    );
  };
