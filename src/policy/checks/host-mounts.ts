import { canonicalHostPath, isWithin } from '../host-path.js';
import { firstInViews, quote, type CheckFactory, type Violation } from './check.js';

// Filesystem types the local volume driver mounts from somewhere other than the host's disks.
const NON_HOST_FS = new Set(['tmpfs', 'nfs', 'nfs4', 'cifs', 'smb3']);

/**
 * The host path a `local` volume with these driver options mounts, if any: `o=bind` (or rbind)
 * binds `device`, and a block-device `device` with a disk filesystem mounts the host's disk.
 */
export function localVolumeHostPath(driver: string | undefined, options: ReadonlyMap<string, string> | undefined): string | undefined {
  if (!options) return undefined;
  const d = (driver ?? '').trim().toLowerCase();
  if (d !== '' && d !== 'local') return undefined;
  const device = options.get('device');
  if (device === undefined) return undefined;
  const o = (options.get('o') ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (o.includes('bind') || o.includes('rbind')) return device;
  const type = (options.get('type') ?? '').trim().toLowerCase();
  return device.startsWith('/') && !NON_HOST_FS.has(type) ? device : undefined;
}

/** The host source of a `Binds` entry (`/src:/dst[:opts]`), or undefined for a named volume. */
export function bindSource(spec: string): string | undefined {
  const parts = spec.split(':');
  return parts.length >= 2 && parts[0]!.startsWith('/') ? parts[0] : undefined;
}

export const hostMounts: CheckFactory<'host-mounts'> = (rule) => {
  const allowed = rule.allowedPaths.map(canonicalHostPath);
  const permitted = (path: string) => {
    const p = canonicalHostPath(path);
    return allowed.some((dir) => isWithin(p, dir));
  };
  const outside = (field: string, shown: string): Violation => ({
    field,
    reason: `${quote(shown)} mounts a host path outside the allowed list`,
  });

  return function checkHostMounts(req) {
    if (req.subject.kind === 'volume') {
      const device = localVolumeHostPath(req.subject.driver, req.subject.options);
      if (device !== undefined && !permitted(device)) return outside('DriverOpts.device', device);
      return undefined;
    }
    return firstInViews(req, ({ prefix, hc }) => {
      const binds = hc.Binds ?? [];
      for (let i = 0; i < binds.length; i++) {
        const source = bindSource(binds[i]!);
        if (source !== undefined && !permitted(source)) return outside(`${prefix}Binds[${i}]`, binds[i]!);
      }
      const mounts = hc.Mounts ?? [];
      for (let i = 0; i < mounts.length; i++) {
        const m = mounts[i]!;
        const type = (m.Type ?? '').trim().toLowerCase();
        if (type === 'volume') {
          const dc = m.VolumeOptions?.DriverConfig;
          const device = localVolumeHostPath(dc?.Name, dc?.Options);
          if (device !== undefined && !permitted(device)) return outside(`${prefix}Mounts[${i}].VolumeOptions.DriverConfig.Options.device`, device);
        } else if (type !== 'tmpfs' && type !== 'npipe' && type !== 'cluster') {
          // bind, or a type the daemon will reject: judge its source as a host path either way.
          const source = m.Source ?? '';
          if (!permitted(source)) return outside(`${prefix}Mounts[${i}].Source`, source);
        }
      }
      return undefined;
    });
  };
};
