import { unixClient, socketOfDockerHost, type DaemonClient } from '../daemon/client.js';
import { daemonDefaults } from '../daemon/mirror.js';
import { codes, codedError, isCodedError } from '../errors.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { findings, settingRules, type Finding } from '../policy/settings.js';
import { containerAsCreate, networkAsCreate, volumeAsCreate, type VolumeFacts } from '../request/from-inspect.js';
import type { DockerRequest } from '../request/types.js';

// `docker-authz scan`: the containers, volumes and networks that exist on the daemon and that the
// policy would refuse to create. The plugin judges requests; objects made before it was installed
// (or while it was off) keep whatever they were given, and can be started, exec'd, mounted and
// joined by name. Read-only: the daemon is only asked GET requests.

export type { Finding };

export interface ScannedObject {
  readonly kind: 'container' | 'volume' | 'network';
  readonly id: string;
  readonly name: string;
  /** Containers: state and image. */
  readonly detail?: string;
  readonly findings: readonly Finding[];
}

export interface ScanReport {
  readonly dockerHost: string;
  readonly policy: string;
  readonly checked: { readonly containers: number; readonly volumes: number; readonly networks: number };
  /** Objects at least one rule would refuse, containers first. */
  readonly refused: readonly ScannedObject[];
  /** Objects that could not be read (e.g. removed during the scan). */
  readonly unreadable: readonly { readonly kind: string; readonly name: string; readonly message: string }[];
}

export interface ScanOptions {
  /** `unix:///var/run/docker.sock` or a socket path. */
  readonly dockerHost: string;
  readonly policy: CompiledPolicy;
  /** Per daemon request. Default SCAN_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** For tests, or to reuse a client; otherwise one is made for dockerHost and closed at the end. */
  readonly client?: DaemonClient;
}

/**
 * How long scan waits for each of the daemon's answers by default. Listing volumes can take long on
 * an idle host too: dockerd 20.10 first asks every socket in /run/docker/plugins it has not met yet
 * whether it is a volume driver, and retries one nobody listens on (a killed plugin's leftover) for
 * about 15 s before it answers.
 */
export const SCAN_TIMEOUT_MS = 60_000;

// Networks the daemon makes itself; their options are its own.
const DAEMON_NETWORKS = new Set(['bridge', 'host', 'none', 'docker_gwbridge']);

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function runScan(opts: ScanOptions): Promise<ScanReport> {
  const socket = socketOfDockerHost(opts.dockerHost);
  if (!opts.client && !socket) {
    throw codedError(codes.CONFIG_INVALID, `${opts.dockerHost} is not a unix socket (unix:///path); scan talks to the local daemon only`);
  }
  const client = opts.client ?? unixClient({ socketPath: socket!, timeoutMs: opts.timeoutMs ?? SCAN_TIMEOUT_MS });
  const rules = settingRules(opts.policy.rules);
  const unreadable: { kind: string; name: string; message: string }[] = [];
  const judge = (
    kind: ScannedObject['kind'],
    id: string,
    name: string,
    make: () => DockerRequest,
    detail?: string,
  ): ScannedObject | undefined => {
    try {
      return { kind, id, name, ...(detail !== undefined && { detail }), findings: findings(rules, make()) };
    } catch (err) {
      if (!isCodedError(err)) throw err;
      unreadable.push({ kind, name, message: err.message });
      return undefined;
    }
  };

  try {
    const defaults = daemonDefaults(await client.getJson('/info'));

    const volumeList = (await client.getJson<{ Volumes?: (VolumeFacts & { Name?: string })[] | null }>('/volumes')).Volumes ?? [];
    const volumeFacts = new Map(volumeList.filter((v) => typeof v.Name === 'string').map((v) => [v.Name!, v] as const));
    const volumes = volumeList.map((v) => judge('volume', v.Name ?? '', v.Name ?? '', () => volumeAsCreate(v)));

    const networkList = await client.getJson<{ Id?: string; Name?: string; Ingress?: boolean }[]>('/networks');
    const networks = networkList
      .filter((n) => !DAEMON_NETWORKS.has(n.Name ?? '') && n.Ingress !== true)
      .map((n) => judge('network', n.Id ?? '', n.Name ?? '', () => networkAsCreate(n)));
    const refusedNetworks = new Map(networks.filter((n) => n && n.findings.length > 0).map((n) => [n!.name, n!] as const));

    const containerList = await client.getJson<{ Id: string }[]>('/containers/json?all=1');
    const containers = await mapLimited(containerList, 4, async ({ Id }) => {
      let inspect: { Name?: string; State?: { Status?: string }; Config?: { Image?: string }; NetworkSettings?: { Networks?: object } };
      try {
        inspect = await client.getJson(`/containers/${encodeURIComponent(Id)}/json`);
      } catch (err) {
        // Removed between the list and the inspect: nothing left to report.
        if (isCodedError(err) && / 404 /.test(err.message)) return undefined;
        throw err;
      }
      const name = (inspect.Name ?? '').replace(/^\//, '') || Id.slice(0, 12);
      const detail = `${inspect.State?.Status ?? 'unknown state'}, image ${inspect.Config?.Image ?? '?'}`;
      const judged = judge('container', Id, name, () => containerAsCreate(inspect, { defaults, volumes: volumeFacts }), detail);
      if (!judged) return undefined;
      // Joining a network the policy refuses is how its host access is used.
      const joined = Object.keys(inspect.NetworkSettings?.Networks ?? {}).flatMap((net) => {
        const n = refusedNetworks.get(net);
        return n
          ? [
              {
                ...n.findings[0]!,
                field: `network ${JSON.stringify(net)}`,
                reason: `is a network the policy refuses (${n.findings[0]!.rule}): see below`,
              },
            ]
          : [];
      });
      return { ...judged, findings: [...judged.findings, ...joined] };
    });

    const refused = [...containers, ...volumes, ...networks].filter(
      (o: ScannedObject | undefined): o is ScannedObject => o !== undefined && o.findings.length > 0,
    );
    return {
      dockerHost: opts.dockerHost,
      policy: opts.policy.source,
      checked: { containers: containerList.length, volumes: volumeList.length, networks: networks.length },
      refused,
      unreadable,
    };
  } finally {
    if (!opts.client) client.close();
  }
}
