import { containerAsCreate, type DaemonDefaults } from '../../request/from-inspect.js';
import { referencesOf, type Reference } from '../../request/references.js';
import { identityName, type DockerRequest } from '../../request/types.js';
import { settingRules } from '../settings.js';
import type { ObjectView, OwnedObject } from '../state-view.js';
import { quote, type CheckFactory, type CompileContext, type Violation } from './check.js';

// Prunes remove every user's stopped containers, unused volumes and networks.
const PRUNES = new Set(['container.prune', 'volume.prune', 'network.prune']);

// What runs a container's contents or copies into or out of it. A container the plugin did not see
// created (adopted by a user since) is judged by its settings first, as its create would have been.
const RUNS_OR_COPIES = new Set([
  'container.start',
  'container.restart',
  'container.unpause',
  'container.attach',
  'container.attach.ws',
  'container.exec.create',
  'container.archive.get',
  'container.archive.head',
  'container.archive.put',
  'container.copy',
  'container.export',
  'container.commit',
]);

// The daemon's own networks: everyone's.
const DAEMON_NETWORKS = new Set(['bridge', 'host', 'none']);

const ADMINS_ONLY =
  'was not created through docker-authz (it predates the plugin, or was made while the plugin was off), so only administrators ' +
  'may use it; an administrator can give it to its user with `docker-authz owners adopt`';

const where = (r: Reference) => (r.field === 'path' ? `${r.kind} ${quote(r.ref)}` : `${r.field} ${quote(r.ref)}`);

/** Groups whose members share their objects: identity → the identities it shares with. */
function partnersOf(sharedGroups: readonly string[], ctx: CompileContext | undefined): ReadonlyMap<string, ReadonlySet<string>> {
  const partners = new Map<string, Set<string>>();
  for (const group of sharedGroups) {
    const members = ctx?.groups[group] ?? [];
    for (const m of members) {
      let set = partners.get(m);
      if (!set) partners.set(m, (set = new Set()));
      for (const other of members) set.add(other);
    }
  }
  return partners;
}

/**
 * Users manage only what they created. Every container, network, volume and exec a request names
 * (in the path, the query or the body) is resolved the way the daemon resolves it, against the
 * records of who created what; one that belongs to another identity (outside a shared group), one
 * whose creator is unknown, and one that cannot be resolved are refused. Admins are the identities
 * the rule does not apply to.
 */
export const ownership: CheckFactory<'ownership'> = (rule, ctx) => {
  const partners = partnersOf(rule.sharedGroups, ctx);
  const mayUse = (identity: string, owner: string) => owner === identity || partners.get(identity)?.has(owner) === true;

  // Containers judged by their settings: the create request each stored config stands for.
  const creates = new Map<string, DockerRequest | Error>();
  const settingsViolation = (config: string, req: DockerRequest, identity: string): Violation | undefined => {
    let create = creates.get(config);
    if (create === undefined) {
      try {
        const { inspect, defaults } = JSON.parse(config) as { inspect: unknown; defaults?: DaemonDefaults };
        create = containerAsCreate(inspect, { identity: req.identity, ...(defaults && { defaults }) });
      } catch (err) {
        create = err instanceof Error ? err : new Error(String(err));
      }
      if (creates.size >= 256) creates.clear();
      creates.set(config, create);
    }
    if (create instanceof Error) return { field: 'its settings', reason: `cannot be read (${create.message})` };
    for (const r of settingRules(ctx?.rules() ?? [])) {
      if (!r.appliesTo(identity)) continue;
      const v = r.check(create);
      if (v) return { field: `its settings (${r.id}):`, reason: `${v.field} ${v.reason}` };
    }
    return undefined;
  };

  const owned = (r: Reference, o: OwnedObject, req: DockerRequest, identity: string): Violation | undefined => {
    const what = where(r);
    if (o.owner === null) {
      if (r.kind === 'network' && o.name !== null && DAEMON_NETWORKS.has(o.name)) return undefined;
      return { field: what, reason: ADMINS_ONLY };
    }
    if (!mayUse(identity, o.owner)) {
      const kind = r.field === 'path' ? '' : `is a ${r.kind} that `;
      return { field: what, reason: `${kind}belongs to ${o.owner}: only its owner and administrators may use it` };
    }
    if (o.config !== null && r.kind === 'container' && (r.use === 'join' || RUNS_OR_COPIES.has(req.op))) {
      const v = settingsViolation(o.config, req, identity);
      if (v) return { field: what, reason: `was not created through docker-authz and ${v.field} ${v.reason}` };
    }
    return undefined;
  };

  const resolve = (objects: ObjectView, r: Reference, req: DockerRequest, identity: string): Violation | undefined => {
    if (r.kind === 'volume') {
      const v = objects.volume(r.ref);
      if (v === 'unreadable') return { field: where(r), reason: 'cannot be checked: docker-authz cannot read its state database' };
      // A volume nobody has yet is made for the caller when the container is created.
      if (v === undefined) return r.use === 'mount' ? undefined : { field: where(r), reason: 'is not known to docker-authz' };
      return owned(r, v, req, identity);
    }
    const found = r.kind === 'container' ? objects.container(r.ref) : r.kind === 'network' ? objects.network(r.ref) : objects.exec(r.ref);
    if (!found.ok) return { field: where(r), reason: `cannot be resolved: ${found.why}` };
    return owned(r, found.record, req, identity);
  };

  return function checkOwnership(req, state) {
    if (PRUNES.has(req.op)) {
      return { field: req.op, reason: "removes every user's unused objects: only administrators may prune" };
    }
    const refs = referencesOf(req);
    if (refs.length === 0) return undefined;
    const objects = state?.objects;
    if (!objects) return { field: where(refs[0]!), reason: 'cannot be checked here: no records of who created what' };
    const notReady = objects.notReady;
    if (notReady !== undefined) return { field: where(refs[0]!), reason: `cannot be checked yet: ${notReady}; try again shortly` };
    const identity = identityName(req.identity);
    for (const r of refs) {
      const v = resolve(objects, r, req, identity);
      if (v) return v;
    }
    return undefined;
  };
};
