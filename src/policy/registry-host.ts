import { splitHostPort } from '../request/registry-address.js';
import { hostCidr, hostItself, ipIn, parseCidr, parseInetAton, parseIP, type Cidr, type IpAddr } from './ip.js';

// Judging the registry a pull, push, search or login goes to, without DNS: the plugin never
// resolves names (that would be I/O per request, and a name can resolve differently for the
// daemon a moment later). What it can see is the spelling, so every spelling of "this host" that
// needs no DNS is recognised.

/** A registry entry in a policy list: a name (`*.example.com` for subdomains), an IP or a CIDR, optionally with `:port`. */
export type RegistryPattern =
  | { readonly kind: 'name'; readonly name: string; readonly wildcard: boolean; readonly port: string | undefined }
  | { readonly kind: 'block'; readonly block: Cidr; readonly port: string | undefined };

const NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Reads a policy list entry, or undefined when it is not one. */
export function parseRegistryPattern(entry: string): RegistryPattern | undefined {
  const text = entry.trim().toLowerCase();
  const cidr = text.includes('/') ? parseCidr(text.replace(/^\[|\](?=\/)/g, '')) : undefined;
  if (cidr) return { kind: 'block', block: cidr, port: undefined };
  const bare = parseIP(text); // an IPv6 address without brackets has no port
  if (bare) return { kind: 'block', block: hostCidr(bare), port: undefined };
  const { host, port } = splitHostPort(text);
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) return undefined;
  const ip = parseIP(host);
  if (ip) return { kind: 'block', block: hostCidr(ip), port };
  if (!NAME.test(host)) return undefined;
  const wildcard = host.startsWith('*.');
  return { kind: 'name', name: wildcard ? host.slice(2) : host, wildcard, port };
}

/** A registry address (`host`, `host:port`, `[v6]:port`) as the daemon will dial it. */
export interface RegistryHost {
  /** Lower-cased, one trailing dot removed; the IPv6 zone removed. */
  readonly name: string;
  readonly port: string | undefined;
  /** The address Go's net.ParseIP reads. */
  readonly ip: IpAddr | undefined;
  /** The address the C library's resolver would read (inet_aton spellings such as `127.1`). */
  readonly anyIp: IpAddr | undefined;
}

export function readRegistryHost(registry: string): RegistryHost {
  const { host, port } = splitHostPort(registry);
  let name = host.toLowerCase();
  const zone = name.indexOf('%');
  if (zone !== -1) name = name.slice(0, zone);
  if (name.endsWith('.')) name = name.slice(0, -1);
  const ip = parseIP(name);
  return { name, port, ip, anyIp: ip ?? parseInetAton(name) };
}

export function matchesPattern(p: RegistryPattern, h: RegistryHost, loose = false): boolean {
  if (p.port !== undefined && p.port !== h.port) return false;
  if (p.kind === 'block') {
    const ip = loose ? h.anyIp : h.ip;
    return ip !== undefined && ipIn(p.block, ip);
  }
  return p.wildcard ? h.name.endsWith(`.${p.name}`) : h.name === p.name;
}

// Names that resolve to the host without DNS: the resolver's own rules for "localhost" and the
// usual /etc/hosts entries (Debian maps ip6-localhost and ip6-loopback to ::1).
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/**
 * Why the daemon dialing this registry reaches the host itself, or undefined. `hostNames` are
 * this machine's own names (its hostname), which /etc/hosts usually maps to a loopback address.
 */
export function registryOnHost(h: RegistryHost, hostNames: ReadonlySet<string>): string | undefined {
  if (h.anyIp) return hostItself(h.anyIp);
  if (LOOPBACK_NAMES.has(h.name) || h.name.endsWith('.localhost')) return 'a name for the loopback address';
  if (hostNames.has(h.name)) return "this host's own name";
  return undefined;
}
