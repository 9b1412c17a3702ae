import { hostname } from 'node:os';
import { canonicalHostPath, isWithin } from '../host-path.js';
import { parseIP } from '../ip.js';
import { readRegistryHost, registryOnHost } from '../registry-host.js';
import { firstInViews, flagged, quote, shown, type CheckFactory, type Violation } from './check.js';

// Filesystem types the local volume driver mounts from somewhere other than the host's disks and
// kernel. Anything else (proc, sysfs, cgroup, overlay with lowerdir=, ext4 on a device, ...) reaches
// the host, whatever the device is called.
const NON_HOST_FS = new Set(['tmpfs', 'nfs', 'nfs4', 'cifs', 'smb3']);
const NETWORK_FS = new Set(['nfs', 'nfs4', 'cifs', 'smb3']);

/** What a `local` volume with these driver options mounts from the host, if anything. */
export type LocalVolumeAccess =
  | { readonly kind: 'bind'; readonly path: string }
  | { readonly kind: 'mount'; readonly type: string }
  /** A network filesystem: the servers it names (`addr=`, `host:/export`, `//host/share`). */
  | { readonly kind: 'network'; readonly type: string; readonly servers: readonly string[] };

function networkServers(device: string, o: readonly string[]): string[] {
  const servers = o.filter((x) => x.startsWith('addr=')).map((x) => x.slice('addr='.length));
  const cifs = /^\/\/([^/]+)/.exec(device);
  if (cifs) servers.push(cifs[1]!);
  else {
    const nfs = /^(\[[^\]]*\]|[^:/]+):/.exec(device);
    if (nfs) servers.push(nfs[1]!);
  }
  return servers;
}

export function localVolumeHostAccess(
  driver: string | undefined,
  options: ReadonlyMap<string, string> | undefined,
): LocalVolumeAccess | undefined {
  if (!options || options.size === 0) return undefined;
  const d = (driver ?? '').trim().toLowerCase();
  if (d !== '' && d !== 'local') return undefined;
  // moby/sys/mount reads the flags exactly: only "bind" and "rbind" make a bind; "BIND" or " bind"
  // is passed to the filesystem as data, and the `type` decides what is mounted.
  const o = (options.get('o') ?? '').split(',');
  if (o.includes('bind') || o.includes('rbind')) return { kind: 'bind', path: options.get('device') ?? '' };
  const type = (options.get('type') ?? '').trim().toLowerCase();
  if (type === '' && options.get('device') === undefined) return undefined; // options the driver rejects anyway
  if (NETWORK_FS.has(type)) return { kind: 'network', type, servers: networkServers(options.get('device') ?? '', o) };
  return NON_HOST_FS.has(type) ? undefined : { kind: 'mount', type };
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
  const self = hostname().toLowerCase();
  const hostNames = new Set([self, self.split('.')[0]!].filter((n) => n !== ''));
  const outside = (field: string, path: string): Violation => ({
    field,
    reason: rule.allowedPaths.length
      ? `mounts ${shown(path)} from the host, outside the allowed host paths (${rule.allowedPaths.join(', ')})`
      : `mounts ${shown(path)} from the host (this policy allows no host paths)`,
  });
  /**
   * A local volume is a host bind (judged by path) or a kernel mount of host resources (refused).
   * `opt` is how its options are given (`--opt `, `--mount volume-opt=`), `at` where they are.
   */
  const volumeAccess = (
    opt: string,
    prefix: string,
    at: string,
    driver: string | undefined,
    options: ReadonlyMap<string, string> | undefined,
  ): Violation | undefined => {
    const access = localVolumeHostAccess(driver, options);
    if (!access) return undefined;
    if (access.kind === 'bind') {
      const field = flagged(`${opt}device=${shown(access.path)}`, prefix, `${at}.device`);
      // A relative device is resolved against the daemon's working directory, which the plugin does not know.
      if (!access.path.startsWith('/')) return { field, reason: 'is a relative host path (the daemon resolves it in its own directory)' };
      return permitted(access.path) ? undefined : outside(field, access.path);
    }
    if (access.kind === 'network') {
      // The daemon mounts from the host's network namespace: a server on this host exports host files.
      const server = access.servers.find((s) => {
        const bare = s.split('%')[0]!; // an IPv6 zone
        return registryOnHost(readRegistryHost(parseIP(bare) ? `[${bare}]` : s), hostNames);
      });
      return server === undefined
        ? undefined
        : {
            field: flagged(`${opt}type=${shown(access.type)}`, prefix, at),
            reason: `mounts ${access.type} from ${quote(server)}, a server on this host (the daemon mounts it from the host)`,
          };
    }
    return {
      field: flagged(`${opt}type=${shown(access.type)}`, prefix, `${at}.type`),
      reason: `makes the local volume driver mount a host filesystem (the types that are not from the host: ${[...NON_HOST_FS].join(', ')})`,
    };
  };

  return function checkHostMounts(req) {
    if (req.subject.kind === 'volume') return volumeAccess('--opt ', '', 'DriverOpts', req.subject.driver, req.subject.options);
    return firstInViews(req, ({ prefix, hc }) => {
      const binds = hc.Binds ?? [];
      for (let i = 0; i < binds.length; i++) {
        const source = bindSource(binds[i]!);
        if (source !== undefined && !permitted(source)) return outside(flagged(`-v ${shown(binds[i])}`, prefix, `Binds[${i}]`), source);
      }
      const mounts = hc.Mounts ?? [];
      for (let i = 0; i < mounts.length; i++) {
        const m = mounts[i]!;
        const type = (m.Type ?? '').trim().toLowerCase();
        if (type === 'volume') {
          const dc = m.VolumeOptions?.DriverConfig;
          const found = volumeAccess(
            '--mount volume-opt=',
            prefix,
            `Mounts[${i}].VolumeOptions.DriverConfig.Options`,
            dc?.Name,
            dc?.Options,
          );
          if (found) return found;
        } else if (type !== 'tmpfs' && type !== 'npipe' && type !== 'cluster' && type !== 'image') {
          // bind, or a type the daemon will reject: judge its source as a host path either way.
          const source = m.Source ?? '';
          if (!permitted(source)) return outside(flagged(`--mount source=${shown(source)}`, prefix, `Mounts[${i}].Source`), source);
        }
      }
      return undefined;
    });
  };
};
