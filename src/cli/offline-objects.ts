import { createHash } from 'node:crypto';
import type { ObjectView, OwnedObject, Resolved } from '../policy/state-view.js';

// The daemon's objects as `docker-authz explain` and `test` are told about them (--object, objects:),
// resolved the way the plugin's records are (src/state/objects.ts): for the ownership rule, offline.

export type ObjectKind = 'container' | 'volume' | 'network' | 'exec';
export const OBJECT_KINDS: readonly ObjectKind[] = ['container', 'volume', 'network', 'exec'];

export interface ObjectSpec {
  readonly kind: ObjectKind;
  /** The name (containers, networks, volumes) or, when it is 64 hex digits, the full ID. */
  readonly ref: string;
  /** Who created it; null when the plugin did not see it created (made before the plugin). */
  readonly owner: string | null;
}

const HEX = /^[0-9a-f]+$/;
const FULL_ID = /^[0-9a-f]{64}$/;

const HINT = (kind: ObjectKind, ref: string) =>
  `no ${kind} ${JSON.stringify(ref)} is known here (describe it: --object ${kind}:${ref}=OWNER, or objects: in a test file)`;

/** Reads `KIND:REF=OWNER` (an empty OWNER or "-": made before the plugin, no known owner). */
export function parseObjectOption(text: string): ObjectSpec | string {
  const m = /^(container|volume|network|exec):([^=]+)=(.*)$/.exec(text);
  if (!m) return `--object ${JSON.stringify(text)}: expected KIND:REF=OWNER, KIND one of ${OBJECT_KINDS.join(', ')}`;
  const owner = m[3]!;
  return { kind: m[1] as ObjectKind, ref: m[2]!, owner: owner === '' || owner === '-' ? null : owner };
}

function record(spec: ObjectSpec): OwnedObject {
  const isId = spec.kind === 'exec' || FULL_ID.test(spec.ref);
  const id = spec.kind === 'volume' || isId ? spec.ref : createHash('sha256').update(`${spec.kind}/${spec.ref}`).digest('hex');
  return { id, name: isId && spec.kind !== 'volume' ? null : spec.ref, owner: spec.owner, parent: null, config: null };
}

/** An object view over `specs`, plus the daemon's own networks (bridge, host, none: nobody's). */
export function offlineObjects(specs: readonly ObjectSpec[]): ObjectView {
  const all: (OwnedObject & { readonly kind: ObjectKind })[] = [
    ...['bridge', 'host', 'none'].map((name) => ({ kind: 'network' as const, ...record({ kind: 'network', ref: name, owner: null }) })),
    ...specs.map((s) => ({ kind: s.kind, ...record(s) })),
  ];
  const of = (kind: ObjectKind) => all.filter((r) => r.kind === kind);

  // A full ID, then a name, then a unique ID prefix (moby's GetContainer and FindNetwork).
  function find(kind: 'container' | 'network', ref: string): Resolved {
    if (ref === '') return { ok: false, why: `an empty ${kind} reference` };
    const records = of(kind);
    const byId = records.find((r) => r.id === ref);
    if (byId) return { ok: true, record: byId };
    const name = kind === 'container' ? ref.replace(/^\//, '') : ref;
    const byName = records.filter((r) => r.name === name);
    if (byName.length > 1) return { ok: false, why: `${kind} ${JSON.stringify(ref)} is ambiguous (several have that name)` };
    if (byName.length === 1) return { ok: true, record: byName[0]! };
    if (!HEX.test(ref)) return { ok: false, why: HINT(kind, ref) };
    const byPrefix = records.filter((r) => r.id.startsWith(ref));
    if (byPrefix.length > 1) return { ok: false, why: `${kind} ID prefix ${JSON.stringify(ref)} is ambiguous` };
    return byPrefix.length === 1 ? { ok: true, record: byPrefix[0]! } : { ok: false, why: HINT(kind, ref) };
  }

  return {
    notReady: undefined,
    container: (ref) => find('container', ref),
    network: (ref) => find('network', ref),
    volume: (name) => of('volume').find((r) => r.id === name),
    exec: (id) => {
      const r = of('exec').find((x) => x.id === id);
      return r ? { ok: true, record: r } : { ok: false, why: HINT('exec', id) };
    },
  };
}
