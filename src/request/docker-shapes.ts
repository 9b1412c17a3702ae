import type { Shape, StructShape } from './go-decode.js';

// The parts of the daemon's request types that rules judge, field names as in moby's Go structs.
// Fields nobody judges are left out: Go ignores them and so do we.

const strings: Shape = { slice: 'string' };
const stringMap: Shape = { map: 'string' };

export const mountShape: StructShape = {
  struct: {
    Type: 'string',
    Source: 'string',
    Target: 'string',
    ReadOnly: 'bool',
    BindOptions: { pointer: true, struct: { Propagation: 'string', NonRecursive: 'bool', CreateMountpoint: 'bool' } },
    VolumeOptions: {
      pointer: true,
      struct: {
        NoCopy: 'bool',
        Subpath: 'string',
        DriverConfig: { pointer: true, struct: { Name: 'string', Options: stringMap } },
      },
    },
  },
};

const ulimitShape: StructShape = { pointer: true, struct: { Name: 'string', Hard: 'number', Soft: 'number' } };
export const ulimitsShape: Shape = { slice: ulimitShape };
// blkiodev.WeightDevice / ThrottleDevice: the daemon stat()s Path on the host.
const blkioDevices: Shape = { slice: { pointer: true, struct: { Path: 'string' } } };

// container.Resources is embedded in HostConfig; its fields are promoted.
const resourceFields = {
  CgroupParent: 'string',
  OomKillDisable: 'bool',
  PidsLimit: 'number',
  Ulimits: ulimitsShape,
  CpuRealtimePeriod: 'number',
  CpuRealtimeRuntime: 'number',
  BlkioWeightDevice: blkioDevices,
  BlkioDeviceReadBps: blkioDevices,
  BlkioDeviceWriteBps: blkioDevices,
  BlkioDeviceReadIOps: blkioDevices,
  BlkioDeviceWriteIOps: blkioDevices,
  Devices: { slice: { struct: { PathOnHost: 'string', PathInContainer: 'string', CgroupPermissions: 'string' } } },
  DeviceCgroupRules: strings,
  DeviceRequests: {
    slice: { struct: { Driver: 'string', Count: 'number', DeviceIDs: strings, Capabilities: { slice: strings } } },
  },
} satisfies Record<string, Shape>;

const hostConfigFields = {
  ...resourceFields,
  Binds: strings,
  Mounts: { slice: mountShape },
  VolumesFrom: strings,
  Links: strings,
  VolumeDriver: 'string',
  Privileged: 'bool',
  CapAdd: 'strslice',
  Capabilities: strings,
  PidMode: 'string',
  IpcMode: 'string',
  NetworkMode: 'string',
  UTSMode: 'string',
  UsernsMode: 'string',
  CgroupnsMode: 'string',
  Cgroup: 'string',
  SecurityOpt: strings,
  MaskedPaths: strings,
  ReadonlyPaths: strings,
  Sysctls: stringMap,
  Runtime: 'string',
  LogConfig: { struct: { Type: 'string', Config: stringMap } },
  OomScoreAdj: 'number',
} satisfies Record<string, Shape>;

export const hostConfigShape: StructShape = { pointer: true, struct: hostConfigFields };

// runconfig.ContainerConfigWrapper: Config and (for old clients) HostConfig are embedded, so
// HostConfig fields are also read from the top level of the body.
// network.EndpointSettings: what a container asks of one network it joins.
export const endpointShape: StructShape = {
  pointer: true,
  struct: {
    IPAMConfig: { pointer: true, struct: { IPv4Address: 'string', IPv6Address: 'string', LinkLocalIPs: strings } },
    DriverOpts: stringMap,
  },
};

export const containerCreateShape: StructShape = {
  struct: {
    Image: 'string',
    User: 'string',
    HostConfig: hostConfigShape,
    NetworkingConfig: { pointer: true, struct: { EndpointsConfig: { map: endpointShape } } },
    ...hostConfigFields,
  },
};

export const containerUpdateShape: StructShape = { struct: { ...resourceFields } };

export const execCreateShape: StructShape = { struct: { User: 'string', Privileged: 'bool' } };

export const volumeCreateShape: StructShape = { struct: { Name: 'string', Driver: 'string', DriverOpts: stringMap } };

// types.NetworkCreateRequest (NetworkCreate embedded, plus Name).
export const networkCreateShape: StructShape = {
  struct: {
    Name: 'string',
    CheckDuplicate: 'bool',
    Driver: 'string',
    Scope: 'string',
    EnableIPv6: 'bool',
    IPAM: {
      pointer: true,
      struct: {
        Driver: 'string',
        Options: stringMap,
        Config: { slice: { struct: { Subnet: 'string', IPRange: 'string', Gateway: 'string', AuxiliaryAddresses: stringMap } } },
      },
    },
    Internal: 'bool',
    Attachable: 'bool',
    Ingress: 'bool',
    ConfigOnly: 'bool',
    ConfigFrom: { pointer: true, struct: { Network: 'string' } },
    Options: stringMap,
    Labels: stringMap,
  },
};

export const networkConnectShape: StructShape = { struct: { Container: 'string', EndpointConfig: endpointShape } };

export const networkDisconnectShape: StructShape = { struct: { Container: 'string', Force: 'bool' } };

// types.AuthConfig: only the address is read; the credentials next to it are never decoded.
export const authConfigShape: StructShape = { struct: { serveraddress: 'string' } };
