import { referencesOf } from '../request/references.js';
import { identityName, type AuthzEnvelope, type DockerRequest } from '../request/types.js';
import { parseRequestUri } from '../request/uri.js';
import type { ObjectStore } from '../state/objects.js';

/** The object records the AuthZRes calls keep: reads to resolve a reference, and what the daemon confirmed. */
export type ObjectRecorder = Pick<ObjectStore, 'container' | 'network' | 'created' | 'renamed' | 'removed'>;

// The daemon's own answer (JSON under 64 KiB; absent otherwise): trusted, and only an ID or a name is read.
function responseField(env: AuthzEnvelope, key: 'Id' | 'Name'): string | undefined {
  if (typeof env.ResponseBody !== 'string') return undefined;
  try {
    const value = (JSON.parse(Buffer.from(env.ResponseBody, 'base64').toString('utf8')) as Record<string, unknown>)[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

const queryValue = (env: AuthzEnvelope, key: string): string | undefined => {
  const value = new URLSearchParams(parseRequestUri(env.RequestUri as string).query).get(key);
  return value === null || value === '' ? undefined : value;
};

const resolvedId = (r: { ok: true; record: { id: string } } | { ok: false }) => (r.ok ? r.record.id : undefined);

/**
 * Records what the daemon confirmed it did (AuthZRes with 201 or 204): who created each container,
 * exec, volume and network, renames and removals. Throws when the state database cannot be written;
 * the object then has no known owner (administrators only), never the wrong one.
 */
export function recordOutcome(env: AuthzEnvelope, req: DockerRequest, objects: ObjectRecorder): void {
  const owner = identityName(req.identity);
  const status = env.ResponseStatusCode;
  if (status === 201) {
    switch (req.op) {
      case 'container.create': {
        const id = responseField(env, 'Id');
        if (id === undefined) return;
        objects.created({ kind: 'container', id, name: queryValue(env, 'name')?.replace(/^\//, '') ?? null, owner });
        // Named volumes it mounts that did not exist were made for it; existing ones keep their owner.
        for (const r of referencesOf(req)) if (r.kind === 'volume') objects.created({ kind: 'volume', id: r.ref, owner });
        return;
      }
      case 'container.exec.create': {
        const id = responseField(env, 'Id');
        if (id !== undefined)
          objects.created({ kind: 'exec', id, owner, parent: resolvedId(objects.container(req.params.name ?? '')) ?? null });
        return;
      }
      case 'volume.create': {
        const name = responseField(env, 'Name');
        if (name !== undefined) objects.created({ kind: 'volume', id: name, owner });
        return;
      }
      case 'network.create': {
        const id = responseField(env, 'Id');
        const name = req.subject.kind === 'network-create' ? req.subject.network.Name : undefined;
        if (id !== undefined) objects.created({ kind: 'network', id, name: name ?? null, owner });
        return;
      }
      default:
        return;
    }
  }
  if (status !== 204) return;
  switch (req.op) {
    case 'container.delete': {
      const id = resolvedId(objects.container(req.params.name ?? ''));
      if (id !== undefined) objects.removed('container', [id]);
      return;
    }
    case 'container.rename': {
      const id = resolvedId(objects.container(req.params.name ?? ''));
      const name = queryValue(env, 'name')?.replace(/^\//, '');
      if (id !== undefined && name !== undefined) objects.renamed('container', id, name);
      return;
    }
    case 'volume.delete':
      objects.removed('volume', [req.params.name ?? '']);
      return;
    case 'network.delete': {
      const id = resolvedId(objects.network(req.params.id ?? ''));
      if (id !== undefined) objects.removed('network', [id]);
      return;
    }
    default:
      return;
  }
}
