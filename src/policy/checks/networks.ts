import type { EndpointView, NetworkCreateFields } from '../../request/types.js';
import { cidrContains, hostCidr, parseCidr, parseIP, type Cidr } from '../ip.js';
import { quote, type CheckFactory, type Violation } from './check.js';

// Why a driver option reaches the host, for the options libnetwork's drivers read (bridge:
// drivers/bridge/labels.go; macvlan/ipvlan: "parent", netlabel: host addresses). Anything not on
// the rule's list is refused; these only make the message precise.
const OPTION_REASONS: Readonly<Record<string, string>> = {
  parent: "names a host interface to attach the network's containers to",
  'com.docker.network.bridge.name': 'names the host bridge interface (an existing host interface can be taken over)',
  'com.docker.network.bridge.host_binding_ipv4': "binds published ports to a host address of the caller's choosing",
  'com.docker.network.bridge.default_bridge': "makes the network act as the daemon's default bridge",
  'com.docker.network.bridge.trusted_host_interfaces': 'opens published ports to chosen host interfaces',
  'com.docker.network.bridge.gateway_mode_ipv4': "changes how the host routes the network's traffic",
  'com.docker.network.bridge.gateway_mode_ipv6': "changes how the host routes the network's traffic",
  'com.docker.network.host_ipv4': "chooses the host's source address for the network's outgoing traffic",
  'com.docker.network.host_ipv6': "chooses the host's source address for the network's outgoing traffic",
  'com.docker.network.driver.overlay.vxlanid_list': 'chooses VXLAN ids on the host',
};

const DRIVER_REASONS: Readonly<Record<string, string>> = {
  macvlan: "attaches containers directly to a host interface, on the host's own network",
  ipvlan: "attaches containers directly to a host interface, on the host's own network",
  host: "is the host's own network stack",
  overlay: 'belongs to the cluster (swarm)',
  null: 'is reserved for the predefined "none" network',
};

const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'none');

// An IPv6 block inside ::/80 is IPv4-mapped or -compatible (or loopback): the daemon's Go code
// treats some of these as IPv4, so they are never judged as pool members.
const isV4InV6 = (c: Cidr): boolean => c.v6 && c.network >> 48n === 0n;

export const networks: CheckFactory<'networks'> = (rule) => {
  const drivers = new Set(rule.allowedDrivers);
  const options = new Set(rule.allowedOptions);
  const ipamDrivers = new Set(rule.allowedIpamDrivers);
  const pools = rule.allowedPools.map((p) => parseCidr(p)!); // validated by the schema
  const poolText = pools.length
    ? `allowed pools: ${rule.allowedPools.join(', ')}`
    : 'no address pools are allowed: leave subnets and addresses to the daemon';

  /** A subnet, range or address the caller chose: it must lie inside an allowed pool. */
  function inPools(field: string, value: string | undefined, kind: 'block' | 'address'): Violation | undefined {
    if (value === undefined || value === '') return undefined;
    const ip = kind === 'address' ? parseIP(value) : undefined;
    const block = kind === 'block' ? parseCidr(value) : ip && hostCidr(ip);
    if (!block)
      return { field, reason: `${quote(value)} is not an ${kind === 'block' ? 'address block (CIDR)' : 'IP address'} the plugin can read` };
    if (isV4InV6(block)) return { field, reason: `${quote(value)} is an IPv4-mapped or -compatible IPv6 address; write IPv4 as IPv4` };
    if (!pools.some((p) => cidrContains(p, block)))
      return { field, reason: `${quote(value)} is outside the allowed address pools (${poolText})` };
    return undefined;
  }

  function option(flag: string, field: string, key: string): Violation | undefined {
    if (options.has(key)) return undefined;
    const why = OPTION_REASONS[key] ?? 'is not an allowed driver option';
    return { field: `${flag} ${key} (${field}[${quote(key)}])`, reason: `${why} (allowed options: ${list(rule.allowedOptions)})` };
  }

  function endpoint({ prefix, endpoint: ep }: EndpointView): Violation | undefined {
    const ipam = ep.IPAMConfig;
    const found =
      inPools(`--ip (${prefix}IPAMConfig.IPv4Address)`, ipam?.IPv4Address, 'address') ??
      inPools(`--ip6 (${prefix}IPAMConfig.IPv6Address)`, ipam?.IPv6Address, 'address');
    if (found) return found;
    const linkLocal = ipam?.LinkLocalIPs ?? [];
    for (let i = 0; i < linkLocal.length; i++) {
      const v = inPools(`--link-local-ip (${prefix}IPAMConfig.LinkLocalIPs[${i}])`, linkLocal[i], 'address');
      if (v) return v;
    }
    for (const key of ep.DriverOpts?.keys() ?? []) {
      const v = option('--driver-opt', `${prefix}DriverOpts`, key);
      if (v) return v;
    }
    return undefined;
  }

  function create(n: NetworkCreateFields): Violation | undefined {
    const driver = n.Driver ?? '';
    if (!drivers.has(driver === '' ? 'bridge' : driver)) {
      const why = DRIVER_REASONS[driver] ?? 'is not a built-in driver the policy allows (an unknown name loads a network plugin)';
      return { field: '--driver (Driver)', reason: `${quote(driver)} ${why} (allowed drivers: ${list(rule.allowedDrivers)})` };
    }
    const scope = n.Scope ?? '';
    if (scope !== '' && scope !== 'local') {
      return { field: '--scope (Scope)', reason: `${quote(scope)} makes a cluster network (allowed: "local")` };
    }
    if (n.Ingress === true) return { field: '--ingress (Ingress)', reason: "true makes the cluster's routing-mesh network" };
    const from = n.ConfigFrom?.Network;
    if (from && !rule.allowConfigFrom) {
      return {
        field: '--config-from (ConfigFrom.Network)',
        reason: `${quote(from)} takes driver options and addresses from another network, which the plugin cannot see (set allowConfigFrom to allow it)`,
      };
    }
    for (const key of n.Options?.keys() ?? []) {
      const v = option('--opt', 'Options', key);
      if (v) return v;
    }
    const ipamDriver = n.IPAM?.Driver ?? '';
    if (!ipamDrivers.has(ipamDriver === '' ? 'default' : ipamDriver)) {
      return {
        field: '--ipam-driver (IPAM.Driver)',
        reason: `${quote(ipamDriver)} is not an allowed IPAM driver (allowed: ${list(rule.allowedIpamDrivers)})`,
      };
    }
    const configs = n.IPAM?.Config ?? [];
    for (let i = 0; i < configs.length; i++) {
      const c = configs[i]!;
      const at = `IPAM.Config[${i}]`;
      const found =
        inPools(`--subnet (${at}.Subnet)`, c.Subnet, 'block') ??
        inPools(`--ip-range (${at}.IPRange)`, c.IPRange, 'block') ??
        inPools(`--gateway (${at}.Gateway)`, c.Gateway, 'address');
      if (found) return found;
      for (const [name, addr] of c.AuxiliaryAddresses ?? []) {
        const v = inPools(`--aux-address (${at}.AuxiliaryAddresses[${quote(name)}])`, addr, 'address');
        if (v) return v;
      }
    }
    return undefined;
  }

  return function checkNetworks(req) {
    const s = req.subject;
    if (s.kind === 'network-create') return create(s.network);
    if (s.kind === 'network-connect') return s.endpoint && endpoint(s.endpoint);
    if (s.kind === 'container') {
      for (const ep of s.endpoints ?? []) {
        const v = endpoint(ep);
        if (v) return v;
      }
    }
    return undefined;
  };
};
