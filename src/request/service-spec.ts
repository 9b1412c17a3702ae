import { codes, codedError } from '../errors.js';
import { mountShape } from './docker-shapes.js';
import type { StructShape } from './go-decode.js';
import type { JsonBody } from './json-body.js';
import type { HostConfigFields, HostConfigView, MountFields } from './types.js';

// swarm.ServiceSpec, the parts that reach the host. A service's tasks are containers the daemon
// (or another node) creates from this spec, so the container rules judge it as a HostConfig.
const containerSpecShape: StructShape = {
  pointer: true,
  struct: {
    Image: 'string',
    Mounts: { slice: mountShape },
    CapabilityAdd: { slice: 'string' },
    Sysctls: { map: 'string' },
    Privileges: {
      pointer: true,
      struct: {
        SELinuxContext: { pointer: true, struct: { Disable: 'bool', Type: 'string' } },
        Seccomp: { pointer: true, struct: { Mode: 'string' } },
        AppArmor: { pointer: true, struct: { Mode: 'string' } },
      },
    },
  },
};

const networksShape = { slice: { struct: { Target: 'string' } } } as const;

export const serviceSpecShape: StructShape = {
  struct: {
    Networks: networksShape,
    TaskTemplate: {
      struct: {
        ContainerSpec: containerSpecShape,
        Runtime: 'string',
        Networks: networksShape,
        LogDriver: { pointer: true, struct: { Name: 'string' } },
      },
    },
  },
};

interface ContainerSpec {
  Image?: string;
  Mounts?: MountFields[];
  CapabilityAdd?: string[];
  Sysctls?: Map<string, string>;
  Privileges?: {
    SELinuxContext?: { Disable?: boolean; Type?: string };
    Seccomp?: { Mode?: string };
    AppArmor?: { Mode?: string };
  };
}

/** The container settings a service's tasks will run with, as one HostConfig view. */
export function serviceView(body: JsonBody): { image: string | undefined; view: HostConfigView } {
  const spec = body.decode(serviceSpecShape) as {
    Networks?: { Target?: string }[];
    TaskTemplate?: { ContainerSpec?: ContainerSpec; Runtime?: string; Networks?: { Target?: string }[]; LogDriver?: { Name?: string } };
  };
  const task = spec.TaskTemplate ?? {};
  const runtime = (task.Runtime ?? '').trim().toLowerCase();
  if (runtime !== '' && runtime !== 'container') {
    throw codedError(
      codes.BODY_INVALID,
      `TaskTemplate.Runtime ${JSON.stringify(task.Runtime)} is not judged by this plugin (only container services are)`,
    );
  }
  const c = task.ContainerSpec ?? {};
  const p = c.Privileges ?? {};
  // Privileges are spelled as the equivalent --security-opt so the security-options rule reads them.
  const securityOpt: string[] = [];
  if (p.Seccomp?.Mode && p.Seccomp.Mode !== 'default') securityOpt.push(`seccomp=${p.Seccomp.Mode}`);
  if (p.AppArmor?.Mode === 'disabled') securityOpt.push('apparmor=unconfined');
  if (p.SELinuxContext?.Disable) securityOpt.push('label=disable');
  else if (p.SELinuxContext?.Type) securityOpt.push(`label=type:${p.SELinuxContext.Type}`);
  const hostNet = [...(task.Networks ?? []), ...(spec.Networks ?? [])].some((n) => n.Target?.trim().toLowerCase() === 'host');
  const hc: HostConfigFields = {
    ...(c.Mounts && { Mounts: c.Mounts }),
    ...(c.CapabilityAdd && { CapAdd: c.CapabilityAdd }),
    ...(c.Sysctls && { Sysctls: c.Sysctls }),
    ...(securityOpt.length > 0 && { SecurityOpt: securityOpt }),
    ...(hostNet && { NetworkMode: 'host' }),
    ...(task.LogDriver?.Name && { LogConfig: { Type: task.LogDriver.Name } }),
  };
  return { image: c.Image, view: { prefix: 'TaskTemplate.ContainerSpec.', hc } };
}
