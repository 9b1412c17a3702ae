import { codes, codedError } from '../errors.js';
import { endpointShape, hostConfigShape, mountShape, networkCreateShape } from './docker-shapes.js';
import { decodeStruct } from './go-decode.js';
import { jsonNodeOf } from './json-value.js';
import type {
  DockerRequest,
  EndpointFields,
  EndpointView,
  HostConfigFields,
  HostConfigView,
  Identity,
  MountFields,
  NetworkCreateFields,
} from './types.js';

// Objects that already exist, as the create requests that would have made them: what the daemon
// reports in `docker inspect` is read with the same shapes and Go rules as a request body, so the
// policy's rules judge an existing container, volume or network exactly as they judge a create.
// Pure: the caller fetches the inspect output (and the daemon's defaults) and passes them in.

/** Settings the daemon fills in when a create leaves them out (from GET /info). */
export interface DaemonDefaults {
  /** `LoggingDriver`: a container with this log driver may simply not have asked for one. */
  readonly logDriver?: string;
  /** `DefaultRuntime`. */
  readonly runtime?: string;
  /** The default cgroup namespace mode: "host" on cgroup v1 daemons (20.10), "private" on v2. */
  readonly cgroupnsMode?: string;
}

/** A volume's driver and options, as `docker volume inspect` reports them. */
export interface VolumeFacts {
  readonly Driver?: string;
  readonly Options?: Readonly<Record<string, string>> | null;
}

// The /proc paths the daemon masks and makes read-only when a create leaves MaskedPaths and
// ReadonlyPaths out (oci.DefaultSpec, 20.10); it stores them in the container's HostConfig. A list
// that keeps all of these (newer daemons add more) is the default, not a request.
const DEFAULT_MASKED = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const DEFAULT_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const keepsAll = (list: readonly string[] | undefined, defaults: readonly string[]): boolean =>
  list !== undefined && defaults.every((p) => list.includes(p));

function objectField(value: unknown, key: string): Record<string, unknown> | undefined {
  const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const stringField = (value: unknown, key: string): string | undefined => {
  const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v : undefined;
};

function requestOf(op: string, path: string, identity: Identity, subject: DockerRequest['subject']): DockerRequest {
  return { identity, method: 'POST', path, apiVersion: undefined, op, params: {}, subject };
}

/** The HostConfig a create would have sent: what the daemon stored, minus what it filled in. */
function requestedHostConfig(stored: HostConfigFields, defaults: DaemonDefaults): HostConfigFields {
  const hc: Record<string, unknown> = { ...stored };
  // A create that sets no SecurityOpt for a privileged, host-pid or host-ipc container gets
  // label=disable from the daemon (generateSecurityOpt).
  const generatedLabel = stored.Privileged === true || stored.PidMode === 'host' || stored.IpcMode === 'host';
  if (generatedLabel && stored.SecurityOpt?.length === 1 && stored.SecurityOpt[0] === 'label=disable') delete hc.SecurityOpt;
  if (keepsAll(stored.MaskedPaths, DEFAULT_MASKED)) delete hc.MaskedPaths;
  if (keepsAll(stored.ReadonlyPaths, DEFAULT_READONLY)) delete hc.ReadonlyPaths;
  if (defaults.logDriver !== undefined && stored.LogConfig?.Type === defaults.logDriver) delete hc.LogConfig;
  if (defaults.runtime !== undefined && stored.Runtime === defaults.runtime) delete hc.Runtime;
  if (defaults.cgroupnsMode !== undefined && stored.CgroupnsMode === defaults.cgroupnsMode) delete hc.CgroupnsMode;
  return hc as HostConfigFields;
}

/**
 * The `container.create` request that would have made this container (`GET /containers/{id}/json`).
 * With `volumes` (name → `docker volume inspect`), each named volume it mounts is judged too, as if
 * its options had been given inline (`--mount type=volume,volume-opt=...`).
 */
export function containerAsCreate(
  inspect: unknown,
  opts: { identity?: Identity; defaults?: DaemonDefaults; volumes?: ReadonlyMap<string, VolumeFacts> } = {},
): DockerRequest {
  const stored = objectField(inspect, 'HostConfig');
  if (!stored) throw codedError(codes.REQUEST_MALFORMED, 'container inspect output has no HostConfig');
  const hc = requestedHostConfig(decodeStruct(jsonNodeOf(stored), hostConfigShape, 'HostConfig'), opts.defaults ?? {});
  const views: HostConfigView[] = [{ prefix: 'HostConfig.', hc }];

  const mounts = (inspect as { Mounts?: unknown }).Mounts;
  if (opts.volumes && Array.isArray(mounts)) {
    for (const m of mounts) {
      const name = stringField(m, 'Name');
      const facts = stringField(m, 'Type') === 'volume' && name !== undefined ? opts.volumes.get(name) : undefined;
      if (!facts || name === undefined) continue;
      const inline = decodeStruct(
        jsonNodeOf({
          Type: 'volume',
          Source: name,
          Target: stringField(m, 'Destination') ?? '',
          VolumeOptions: { DriverConfig: { Name: facts.Driver ?? 'local', Options: facts.Options ?? {} } },
        }),
        mountShape,
        '',
      ) as MountFields;
      views.push({ prefix: `volume ${JSON.stringify(name)} (at ${inline.Target}): `, hc: { Mounts: [inline] } });
    }
  }

  // Addresses and endpoint options the caller chose for each network (IPAMConfig, DriverOpts), as
  // NetworkingConfig would carry them; the addresses the daemon assigned are elsewhere.
  const endpoints: EndpointView[] = [];
  for (const [net, settings] of Object.entries(objectField(objectField(inspect, 'NetworkSettings'), 'Networks') ?? {})) {
    if (!objectField(settings, 'IPAMConfig') && !objectField(settings, 'DriverOpts')) continue;
    const endpoint = decodeStruct(jsonNodeOf(settings), endpointShape, '') as EndpointFields;
    endpoints.push({ prefix: `NetworkingConfig.EndpointsConfig[${JSON.stringify(net)}].`, endpoint });
  }

  return requestOf('container.create', '/containers/create', opts.identity ?? { kind: 'anonymous' }, {
    kind: 'container',
    image: stringField(objectField(inspect, 'Config'), 'Image'),
    views,
    endpoints,
  });
}

/** The `volume.create` request that would have made this volume (`GET /volumes/{name}`). */
export function volumeAsCreate(inspect: unknown, opts: { identity?: Identity } = {}): DockerRequest {
  const name = stringField(inspect, 'Name');
  if (name === undefined) throw codedError(codes.REQUEST_MALFORMED, 'volume inspect output has no Name');
  const options = objectField(inspect, 'Options') ?? {};
  return requestOf('volume.create', '/volumes/create', opts.identity ?? { kind: 'anonymous' }, {
    kind: 'volume',
    driver: stringField(inspect, 'Driver') ?? '',
    options: new Map(Object.entries(options).filter((e): e is [string, string] => typeof e[1] === 'string')),
  });
}

/**
 * The `network.create` request that would have made this network (`GET /networks/{id}`), without
 * its IPAM configuration: the daemon reports the subnets it chose itself the same way as chosen
 * ones, so addresses cannot be judged after the fact.
 */
export function networkAsCreate(inspect: unknown, opts: { identity?: Identity } = {}): DockerRequest {
  if (typeof inspect !== 'object' || inspect === null) throw codedError(codes.REQUEST_MALFORMED, 'network inspect output is not an object');
  const rest = { ...(inspect as Record<string, unknown>) };
  delete rest.IPAM;
  const network = decodeStruct(jsonNodeOf(rest), networkCreateShape, '') as NetworkCreateFields;
  return requestOf('network.create', '/networks/create', opts.identity ?? { kind: 'anonymous' }, { kind: 'network-create', network });
}
