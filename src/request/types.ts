// What rules see: a Docker operation decoded as the daemon decodes it. Rules never see raw URIs,
// base64 or JSON text.

export type Identity = { readonly kind: 'anonymous' } | { readonly kind: 'tls'; readonly name: string };

/** The stable name of an identity in policies, logs and the hello state. */
export const ANONYMOUS = '@anonymous';
export const identityName = (id: Identity): string => (id.kind === 'tls' ? id.name : ANONYMOUS);

export interface MountFields {
  readonly Type?: string;
  readonly Source?: string;
  readonly Target?: string;
  readonly VolumeOptions?: { readonly DriverConfig?: { readonly Name?: string; readonly Options?: ReadonlyMap<string, string> } };
}

export interface HostConfigFields {
  readonly Binds?: readonly string[];
  readonly Mounts?: readonly MountFields[];
  readonly VolumesFrom?: readonly string[];
  readonly Links?: readonly string[];
  readonly VolumeDriver?: string;
  readonly Privileged?: boolean;
  readonly CapAdd?: readonly string[];
  readonly Capabilities?: readonly string[];
  readonly Devices?: readonly { readonly PathOnHost?: string; readonly PathInContainer?: string }[];
  readonly DeviceCgroupRules?: readonly string[];
  readonly DeviceRequests?: readonly { readonly Driver?: string; readonly Count?: number }[];
  readonly PidMode?: string;
  readonly IpcMode?: string;
  readonly NetworkMode?: string;
  readonly UTSMode?: string;
  readonly UsernsMode?: string;
  readonly CgroupnsMode?: string;
  readonly Cgroup?: string;
  readonly SecurityOpt?: readonly string[];
  readonly MaskedPaths?: readonly string[];
  readonly ReadonlyPaths?: readonly string[];
  readonly CgroupParent?: string;
  readonly Sysctls?: ReadonlyMap<string, string>;
  readonly Runtime?: string;
  readonly LogConfig?: { readonly Type?: string };
  // Host resources (container.Resources, and OomScoreAdj from HostConfig).
  readonly OomScoreAdj?: number;
  readonly OomKillDisable?: boolean;
  readonly PidsLimit?: number;
  readonly Ulimits?: readonly UlimitFields[];
  readonly CpuRealtimePeriod?: number;
  readonly CpuRealtimeRuntime?: number;
  readonly BlkioWeightDevice?: readonly BlkioDeviceFields[];
  readonly BlkioDeviceReadBps?: readonly BlkioDeviceFields[];
  readonly BlkioDeviceWriteBps?: readonly BlkioDeviceFields[];
  readonly BlkioDeviceReadIOps?: readonly BlkioDeviceFields[];
  readonly BlkioDeviceWriteIOps?: readonly BlkioDeviceFields[];
}

export interface UlimitFields {
  readonly Name?: string;
  readonly Hard?: number;
  readonly Soft?: number;
}

export interface BlkioDeviceFields {
  readonly Path?: string;
}

/** A network endpoint's settings (network.EndpointSettings), on create or connect. */
export interface EndpointFields {
  readonly IPAMConfig?: { readonly IPv4Address?: string; readonly IPv6Address?: string; readonly LinkLocalIPs?: readonly string[] };
  readonly DriverOpts?: ReadonlyMap<string, string>;
}

/** One endpoint, and where it sits in the body (for messages). */
export interface EndpointView {
  readonly prefix: string;
  readonly endpoint: EndpointFields;
}

/** types.NetworkCreateRequest, the parts that decide what the network reaches. */
export interface NetworkCreateFields {
  readonly Name?: string;
  readonly Driver?: string;
  readonly Scope?: string;
  readonly EnableIPv6?: boolean;
  readonly Internal?: boolean;
  readonly Attachable?: boolean;
  readonly Ingress?: boolean;
  readonly ConfigOnly?: boolean;
  readonly ConfigFrom?: { readonly Network?: string };
  readonly Options?: ReadonlyMap<string, string>;
  readonly IPAM?: {
    readonly Driver?: string;
    readonly Options?: ReadonlyMap<string, string>;
    readonly Config?: readonly {
      readonly Subnet?: string;
      readonly IPRange?: string;
      readonly Gateway?: string;
      readonly AuxiliaryAddresses?: ReadonlyMap<string, string>;
    }[];
  };
}

/** One HostConfig the daemon may apply, and where it sits in the body (for messages). */
export interface HostConfigView {
  readonly prefix: string;
  readonly hc: HostConfigFields;
}

export type Subject =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'container';
      readonly image: string | undefined;
      readonly views: readonly HostConfigView[];
      /** NetworkingConfig.EndpointsConfig of a create: the settings given for each network. */
      readonly endpoints?: readonly EndpointView[];
      /** Every network NetworkingConfig.EndpointsConfig names (with settings or not). */
      readonly networks?: readonly string[];
    }
  | { readonly kind: 'exec'; readonly privileged: boolean; readonly user: string | undefined }
  | { readonly kind: 'volume'; readonly driver: string; readonly options: ReadonlyMap<string, string> }
  | { readonly kind: 'build'; readonly query: URLSearchParams; readonly ulimits?: readonly UlimitFields[] }
  | { readonly kind: 'image-create'; readonly query: URLSearchParams }
  | { readonly kind: 'plugin'; readonly query: URLSearchParams }
  | { readonly kind: 'search'; readonly query: URLSearchParams }
  | { readonly kind: 'network-create'; readonly network: NetworkCreateFields }
  /** A network connect or disconnect: the container (`Container`) and, on connect, its endpoint settings. */
  | { readonly kind: 'network-connect'; readonly container: string | undefined; readonly endpoint: EndpointView | undefined }
  /** `docker commit`: the container named by `?container=`. */
  | { readonly kind: 'commit'; readonly container: string }
  /** `docker login`: only the registry it goes to, never the credentials; undefined when the body was not shown. */
  | { readonly kind: 'login'; readonly registry: string | undefined };

export interface DockerRequest {
  readonly identity: Identity;
  readonly method: string;
  /** Decoded, unversioned path (what the router matched). */
  readonly path: string;
  readonly apiVersion: string | undefined;
  readonly op: string;
  readonly params: Readonly<Record<string, string>>;
  readonly subject: Subject;
}

/** The daemon's AuthZ request envelope (pkg/authorization/api.go); every field is omitempty. */
export interface AuthzEnvelope {
  readonly User?: unknown;
  readonly UserAuthNMethod?: unknown;
  readonly RequestMethod?: unknown;
  readonly RequestUri?: unknown;
  readonly RequestBody?: unknown;
  readonly RequestHeaders?: unknown;
  readonly ResponseStatusCode?: unknown;
  /** AuthZRes only: the daemon's answer (base64), when it is JSON under 64 KiB. */
  readonly ResponseBody?: unknown;
}
