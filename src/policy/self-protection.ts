import type { DockerRequest } from '../request/types.js';
import { canonicalImage } from './image-ref.js';

const BY_PATH = new Set(['plugin.disable', 'plugin.delete', 'plugin.set', 'plugin.upgrade', 'plugin.enable', 'plugin.push']);
const BY_QUERY = new Set(['plugin.pull', 'plugin.create']);

/**
 * Builds the check (built-in rule `self-protection`) that keeps the API from switching this plugin off: disabling a managed plugin
 * removes it from the authorization chain, and a managed plugin installed under our name takes
 * precedence over us at the daemon's next start. No policy can allow these.
 */
export function selfProtection(pluginName: string): (req: DockerRequest) => string | undefined {
  const self = canonicalImage(pluginName);
  const isSelf = (name: string | null | undefined) => typeof name === 'string' && name !== '' && canonicalImage(name) === self;
  return function checkSelf(req) {
    let target: string | null | undefined;
    if (BY_PATH.has(req.op)) target = req.params.name;
    else if (BY_QUERY.has(req.op) && req.subject.kind === 'plugin')
      target = req.subject.query.get('name') || req.subject.query.get('remote');
    else return undefined;
    return isSelf(target)
      ? `${req.op} on ${JSON.stringify(target)} would take the authorization plugin ${JSON.stringify(pluginName)} out of the chain`
      : undefined;
  };
}
