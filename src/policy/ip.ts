// IP addresses and CIDR blocks, parsed the way the daemon parses them, for matching pools and
// registry hosts. Addresses are BigInts so v4 and v6 share one code path.

export interface IpAddr {
  readonly v6: boolean;
  readonly value: bigint;
}

export interface Cidr {
  readonly v6: boolean;
  /** The network address: host bits cleared. */
  readonly network: bigint;
  readonly prefix: number;
}

const bits = (v6: boolean): number => (v6 ? 128 : 32);

/** Go's net.ParseIP for IPv4 (Go 1.17+): four decimal parts 0-255, no leading zeros. */
export function parseIPv4(s: string): IpAddr | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return { v6: false, value };
}

/**
 * The C library's inet_aton, which getaddrinfo uses for numeric host names: one to four parts,
 * each decimal, octal (leading 0) or hex (0x), the last part filling the remaining bytes
 * (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1` are all 127.0.0.1). Go's own resolver does not
 * accept these, but the daemon may resolve through the C library (cgo), so they count.
 */
export function parseInetAton(s: string): IpAddr | undefined {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: bigint[] = [];
  for (const p of parts) {
    let n: bigint;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) n = p.length === 2 ? 0n : BigInt(`0x${p.slice(2)}`);
    else if (/^0[0-7]*$/.test(p)) n = p.length === 1 ? 0n : BigInt(`0o${p.slice(1)}`);
    else if (/^[1-9][0-9]*$/.test(p)) n = BigInt(p);
    else return undefined;
    nums.push(n);
  }
  const last = nums.length - 1;
  const lastBits = BigInt(32 - 8 * last);
  let value = 0n;
  for (let i = 0; i < last; i++) {
    if (nums[i]! > 255n) return undefined;
    value |= nums[i]! << BigInt(24 - 8 * i);
  }
  if (nums[last]! >= 1n << lastBits) return undefined;
  return { v6: false, value: value | nums[last]! };
}

/** Go's net.ParseIP for IPv6: hex groups, one `::`, an optional dotted IPv4 tail; no zone. */
export function parseIPv6(s: string): IpAddr | undefined {
  if (!s.includes(':')) return undefined;
  let tail: bigint | undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4.value;
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] | undefined => {
    if (h === '') return [];
    const g = h.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const count = head.length + rest.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return undefined;
  const all = [...head, ...Array<string>(8 - count).fill('0'), ...rest];
  let value = 0n;
  for (const g of all) value = (value << 16n) | BigInt(`0x${g}`);
  if (tail !== undefined) value = (value & ~0xffffffffn) | tail;
  return { v6: true, value };
}

/** Go's net.ParseIP: a v4 dotted quad or a v6 address. */
export function parseIP(s: string): IpAddr | undefined {
  return parseIPv4(s) ?? parseIPv6(s);
}

/** Go's net.ParseCIDR, returning the masked network. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash === -1) return undefined;
  const addr = parseIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (!addr || !/^[0-9]{1,3}$/.test(len)) return undefined;
  const prefix = Number(len);
  if (prefix > bits(addr.v6)) return undefined;
  return { v6: addr.v6, network: mask(addr.value, addr.v6, prefix), prefix };
}

function mask(value: bigint, v6: boolean, prefix: number): bigint {
  const host = BigInt(bits(v6) - prefix);
  return (value >> host) << host;
}

/** The block an address is, as a /32 or /128. */
export const hostCidr = (a: IpAddr): Cidr => ({ v6: a.v6, network: a.value, prefix: bits(a.v6) });

/** True when `inner` lies entirely inside `outer` (same family). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.v6 === inner.v6 && inner.prefix >= outer.prefix && mask(inner.network, inner.v6, outer.prefix) === outer.network;
}

export const ipIn = (outer: Cidr, a: IpAddr): boolean => cidrContains(outer, hostCidr(a));

/**
 * The IPv4 address an IPv6 address carries, if any: IPv4-mapped (`::ffff:127.0.0.1`, which the
 * kernel delivers as IPv4) and the deprecated IPv4-compatible form (`::127.0.0.1`).
 */
export function embeddedIPv4(a: IpAddr): IpAddr | undefined {
  if (!a.v6) return undefined;
  const top = a.value >> 32n;
  if (top === 0xffffn || (top === 0n && a.value > 1n)) return { v6: false, value: a.value & 0xffffffffn };
  return undefined;
}

export function formatIP(a: IpAddr): string {
  if (!a.v6) return [24n, 16n, 8n, 0n].map((s) => String((a.value >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((a.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export const formatCidr = (c: Cidr): string => `${formatIP({ v6: c.v6, value: c.network })}/${c.prefix}`;

const LOOPBACK_V4 = parseCidr('127.0.0.0/8')!;
const THIS_HOST_V4 = parseCidr('0.0.0.0/8')!;

/** Why connecting to this address reaches the host itself, or undefined. */
export function hostItself(a: IpAddr): string | undefined {
  const v4 = a.v6 ? embeddedIPv4(a) : a;
  if (v4) {
    if (ipIn(LOOPBACK_V4, v4)) return 'a loopback address';
    if (ipIn(THIS_HOST_V4, v4)) return '"this host" (0.0.0.0/8 connects to the host itself)';
    return undefined;
  }
  if (a.value === 1n) return 'the IPv6 loopback address';
  if (a.value === 0n) return 'the unspecified address (connects to the host itself)';
  return undefined;
}
