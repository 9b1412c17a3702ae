import { hostname } from 'node:os';
import { referenceRegistry, searchRegistry } from '../../request/registry-address.js';
import type { DockerRequest } from '../../request/types.js';
import { matchesPattern, parseRegistryPattern, readRegistryHost, registryOnHost } from '../registry-host.js';
import { quote, type CheckFactory, type Violation } from './check.js';

/** A registry a request makes the daemon contact, and where the request names it. */
interface RegistryUse {
  readonly field: string;
  /** The value as sent (a reference or a login address's host; never credentials). */
  readonly value: string;
  readonly registry: string;
}

function use(field: string, value: string | null | undefined, registry: (v: string) => string): RegistryUse[] {
  return value ? [{ field, value, registry: registry(value) }] : [];
}

/** Every registry the daemon will contact for this request. */
export function registryUses(req: DockerRequest): RegistryUse[] {
  const s = req.subject;
  switch (req.op) {
    case 'image.create':
      return s.kind === 'image-create' ? use('docker pull (fromImage)', s.query.get('fromImage'), referenceRegistry) : [];
    case 'image.push':
      return use('docker push (name)', req.params.name, referenceRegistry);
    case 'distribution.inspect':
      return use('registry lookup (name)', req.params.name, referenceRegistry);
    case 'image.search':
      return s.kind === 'search' ? use('docker search (term)', s.query.get('term'), searchRegistry) : [];
    case 'plugin.pull':
    case 'plugin.privileges':
      return s.kind === 'plugin' ? use('docker plugin install (remote)', s.query.get('remote'), referenceRegistry) : [];
    case 'plugin.upgrade':
      return s.kind === 'plugin' ? use('docker plugin upgrade (remote)', s.query.get('remote'), referenceRegistry) : [];
    case 'plugin.push':
      return use('docker plugin push (name)', req.params.name, referenceRegistry);
    case 'service.create':
    case 'service.update':
      return s.kind === 'container' ? use('--image (TaskTemplate.ContainerSpec.Image)', s.image, referenceRegistry) : [];
    case 'system.auth':
      return s.kind === 'login' && s.registry !== undefined
        ? [{ field: 'docker login (serveraddress)', value: s.registry, registry: s.registry }]
        : [];
    default:
      return [];
  }
}

export const registries: CheckFactory<'registries'> = (rule) => {
  const allowed = rule.allowed.map((p) => parseRegistryPattern(p)!); // validated by the schema
  const denied = rule.denied.map((p) => parseRegistryPattern(p)!);
  // This machine's names resolve to it through /etc/hosts; read once, when the policy is compiled.
  const self = hostname().toLowerCase();
  const hostNames = new Set([self, self.split('.')[0]!].filter((n) => n !== ''));
  const allowedText = `allowed registries: ${rule.allowed.length ? rule.allowed.join(', ') : 'any not on this host'}`;

  function judge(u: RegistryUse): Violation | undefined {
    const h = readRegistryHost(u.registry);
    const what = `${quote(u.value)} goes to registry ${quote(u.registry)}`;
    // A denied block also matches the C library's spellings (127.1); an allowed one only Go's.
    if (denied.some((p) => matchesPattern(p, h, true))) return { field: u.field, reason: `${what}, which is on the denied list` };
    const isAllowed = allowed.some((p) => matchesPattern(p, h));
    const onHost = registryOnHost(h, hostNames);
    if (onHost && !isAllowed) {
      return {
        field: u.field,
        reason: `${what}, ${onHost}: the daemon would talk to services on this host (${allowedText})`,
      };
    }
    if (allowed.length > 0 && !isAllowed) return { field: u.field, reason: `${what}, which is not allowed (${allowedText})` };
    return undefined;
  }

  return function checkRegistries(req) {
    if (req.subject.kind === 'login' && req.subject.registry === undefined && !rule.allowUnseenLogins) {
      return {
        field: 'docker login (serveraddress)',
        reason:
          'is in a body the daemon did not show to the plugin, so the registry cannot be judged (allowUnseenLogins allows such logins)',
      };
    }
    for (const u of registryUses(req)) {
      const found = judge(u);
      if (found) return found;
    }
    return undefined;
  };
};
