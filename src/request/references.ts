import type { DockerRequest, HostConfigFields } from './types.js';

// The daemon's objects a request acts on or uses, named as the caller named them (a name, a full ID
// or an ID prefix): the daemon resolves each one (moby's GetContainer, FindNetwork, the volume and
// exec stores), and the ownership rule resolves them the same way against the plugin's records.

export type ReferenceKind = 'container' | 'network' | 'volume' | 'exec';

export interface Reference {
  readonly kind: ReferenceKind;
  /** As the caller wrote it. */
  readonly ref: string;
  /** Where it was found, for messages: "path", "HostConfig.VolumesFrom[0]", "?container=". */
  readonly field: string;
  /**
   * target: the operation acts on it; join: a new container (or build step) shares its namespaces,
   * volumes, environment or network; mount: a container mounts it (a volume that does not exist yet
   * is created for the caller).
   */
  readonly use: 'target' | 'join' | 'mount';
}

const NONE: readonly Reference[] = Object.freeze([]);

// Container operations that name no existing container in the path.
const CONTAINERLESS = new Set(['container.create', 'container.list', 'container.prune']);
const NETWORK_TARGETS = new Set(['network.inspect', 'network.delete', 'network.connect', 'network.disconnect']);
const VOLUME_TARGETS = new Set(['volume.inspect', 'volume.delete', 'volume.update']);

/** `container:<ref>` as moby reads a namespace mode (case-sensitive, split at the first ":"). */
export function joinedContainer(mode: string | undefined): string | undefined {
  if (mode === undefined) return undefined;
  const colon = mode.indexOf(':');
  return colon !== -1 && mode.slice(0, colon) === 'container' ? mode.slice(colon + 1) : undefined;
}

// NetworkMode values that are not a network's name (runconfig: default, bridge, host, none, container:).
const NETWORK_MODES = new Set(['', 'default', 'bridge', 'host', 'none']);

/** The named volume of a `Binds` entry ("name:/dst[:mode]"), as moby's linux parser reads it. */
export function bindVolume(spec: string): string | undefined {
  const parts = spec.split(':');
  const src = parts[0]!;
  return parts.length >= 2 && src !== '' && !src.startsWith('/') ? src : undefined;
}

function hostConfigReferences(prefix: string, hc: HostConfigFields, out: Reference[]): void {
  hc.VolumesFrom?.forEach((spec, i) => {
    // "<container>[:ro|rw]": moby splits at the first ":".
    const colon = spec.indexOf(':');
    out.push({ kind: 'container', ref: colon === -1 ? spec : spec.slice(0, colon), field: `${prefix}VolumesFrom[${i}]`, use: 'join' });
  });
  hc.Links?.forEach((link, i) => {
    // "<container>[:alias]": a link copies the linked container's environment into the new one.
    const colon = link.indexOf(':');
    out.push({ kind: 'container', ref: colon === -1 ? link : link.slice(0, colon), field: `${prefix}Links[${i}]`, use: 'join' });
  });
  for (const field of ['PidMode', 'IpcMode', 'NetworkMode', 'Cgroup'] as const) {
    const joined = joinedContainer(hc[field]);
    if (joined !== undefined) out.push({ kind: 'container', ref: joined, field: `${prefix}${field}`, use: 'join' });
  }
  const mode = hc.NetworkMode;
  if (mode !== undefined && !NETWORK_MODES.has(mode) && joinedContainer(mode) === undefined) {
    out.push({ kind: 'network', ref: mode, field: `${prefix}NetworkMode`, use: 'join' });
  }
  hc.Binds?.forEach((spec, i) => {
    const volume = bindVolume(spec);
    if (volume !== undefined) out.push({ kind: 'volume', ref: volume, field: `${prefix}Binds[${i}]`, use: 'mount' });
  });
  hc.Mounts?.forEach((m, i) => {
    // An empty Type is refused by the daemon; an empty Source is an anonymous volume.
    if (m.Type === 'volume' && m.Source) out.push({ kind: 'volume', ref: m.Source, field: `${prefix}Mounts[${i}].Source`, use: 'mount' });
  });
}

/** Every object `req` acts on or uses; an empty list for most calls, without allocating. */
export function referencesOf(req: DockerRequest): readonly Reference[] {
  const { op, params, subject } = req;
  const group = op.slice(0, op.indexOf('.'));
  if (group === 'container' || group === 'checkpoint') {
    const out: Reference[] = [];
    if (params.name !== undefined && !CONTAINERLESS.has(op))
      out.push({ kind: 'container', ref: params.name, field: 'path', use: 'target' });
    if (subject.kind === 'container') {
      for (const { prefix, hc } of subject.views) hostConfigReferences(prefix, hc, out);
      for (const network of subject.networks ?? []) {
        if (!NETWORK_MODES.has(network))
          out.push({ kind: 'network', ref: network, field: 'NetworkingConfig.EndpointsConfig', use: 'join' });
      }
    } else if (subject.kind === 'commit') {
      out.push({ kind: 'container', ref: subject.container, field: '?container=', use: 'target' });
    }
    return out.length === 0 ? NONE : out;
  }
  if (group === 'exec') return [{ kind: 'exec', ref: params.id ?? params.name ?? '', field: 'path', use: 'target' }];
  if (NETWORK_TARGETS.has(op)) {
    const out: Reference[] = [{ kind: 'network', ref: params.id ?? '', field: 'path', use: 'target' }];
    if (subject.kind === 'network-connect' && subject.container !== undefined) {
      out.push({ kind: 'container', ref: subject.container, field: 'Container', use: 'target' });
    }
    return out;
  }
  if (VOLUME_TARGETS.has(op)) return [{ kind: 'volume', ref: params.name ?? '', field: 'path', use: 'target' }];
  if (subject.kind === 'build') {
    const joined = joinedContainer(subject.query.get('networkmode') ?? undefined);
    if (joined !== undefined) return [{ kind: 'container', ref: joined, field: '?networkmode=', use: 'join' }];
  }
  return NONE;
}
