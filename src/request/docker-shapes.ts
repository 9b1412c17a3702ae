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

// container.Resources is embedded in HostConfig; its fields are promoted.
const resourceFields = {
  CgroupParent: 'string',
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
} satisfies Record<string, Shape>;

export const hostConfigShape: StructShape = { pointer: true, struct: hostConfigFields };

// runconfig.ContainerConfigWrapper: Config and (for old clients) HostConfig are embedded, so
// HostConfig fields are also read from the top level of the body.
export const containerCreateShape: StructShape = {
  struct: {
    Image: 'string',
    User: 'string',
    HostConfig: hostConfigShape,
    ...hostConfigFields,
  },
};

export const containerUpdateShape: StructShape = { struct: { ...resourceFields } };

export const execCreateShape: StructShape = { struct: { User: 'string', Privileged: 'bool' } };

export const volumeCreateShape: StructShape = { struct: { Name: 'string', Driver: 'string', DriverOpts: stringMap } };
