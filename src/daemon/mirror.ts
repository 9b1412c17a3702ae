import type { DaemonDefaults } from '../request/from-inspect.js';
import type { ObjectStore } from '../state/objects.js';
import { streamEvents, type DaemonEvent, type EventStream } from './events.js';

/** The reads the mirror makes (the daemon client, or a stand-in in tests). */
export interface DaemonReader {
  getJson<T = unknown>(path: string): Promise<T>;
}

export interface MirrorOptions {
  readonly socketPath: string;
  readonly reader: DaemonReader;
  /** Headers that mark the plugin's own calls (so that the plugin allows them). */
  readonly headers: Readonly<Record<string, string>>;
  readonly objects: ObjectStore;
  readonly onError: (message: string) => void;
  readonly onSynced?: () => void;
  /** Longest wait between reconnection attempts. Default 5 s: until then, users cannot use their objects. */
  readonly maxBackoffMs?: number;
}

export interface Mirror {
  /** True once the records were reconciled with the daemon since the last (re)connection. */
  readonly synced: boolean;
  close(): void;
}

interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
}
interface ContainerInspect {
  Id: string;
  Name?: string;
  Config?: Record<string, unknown> | null;
  HostConfig?: Record<string, unknown> | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: { Type?: string; Name?: string }[] | null;
}

interface InfoSummary {
  LoggingDriver?: string;
  DefaultRuntime?: string;
  CgroupVersion?: string;
}

/** What the daemon fills in when a create leaves a setting out (to tell a default from a request). */
export function daemonDefaults(info: InfoSummary): DaemonDefaults {
  return {
    ...(info.LoggingDriver && { logDriver: info.LoggingDriver }),
    ...(info.DefaultRuntime && { runtime: info.DefaultRuntime }),
    // dockerd's default cgroup namespace mode: host on cgroup v1, private on v2.
    cgroupnsMode: info.CgroupVersion === '2' ? 'private' : 'host',
  };
}

/** What a container is, to judge it as its create would have been judged (see request/from-inspect.ts). */
function settingsOf(c: ContainerInspect, defaults: DaemonDefaults): string {
  const { Config, HostConfig, NetworkSettings, Mounts } = c;
  return JSON.stringify({ inspect: { Config, HostConfig, NetworkSettings: { Networks: NetworkSettings?.Networks }, Mounts }, defaults });
}

/**
 * Keeps the object records in step with the daemon: everything it has at start (or after the event
 * stream broke) is reconciled, then its events keep names, removals and anonymous volumes current.
 * Owners come from the AuthZRes of each create, not from here: an object first seen here has none
 * (made before the plugin, or while it was off).
 */
export function startMirror(opts: MirrorOptions): Mirror {
  const { objects, reader } = opts;
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  let defaults: DaemonDefaults = {};
  let synced = false;
  let closed = false;
  let stream: EventStream | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoff = 1000;

  const inspectContainer = async (id: string, withConfig: boolean) => {
    const c = await reader.getJson<ContainerInspect>(`/containers/${encodeURIComponent(id)}/json`);
    const owner = objects.container(c.Id);
    objects.created({
      kind: 'container',
      id: c.Id,
      name: c.Name?.replace(/^\//, '') ?? null,
      owner: null,
      ...(withConfig && { config: settingsOf(c, defaults) }),
    });
    for (const m of c.Mounts ?? []) {
      if (m.Type === 'volume' && m.Name) {
        objects.created({ kind: 'volume', id: m.Name, owner: owner.ok ? owner.record.owner : null, parent: c.Id });
      }
    }
  };

  const onEvent = (e: DaemonEvent) => {
    const id = e.Actor?.ID;
    if (!id) return;
    const attrs = e.Actor?.Attributes ?? {};
    const guard = (p: Promise<unknown> | void) => p?.catch((err: Error) => opts.onError(`keeping object records: ${err.message}`));
    try {
      if (e.Type === 'container') {
        if (e.Action === 'create') guard(inspectContainer(id, false));
        else if (e.Action === 'rename' && attrs.name) objects.renamed('container', id, attrs.name.replace(/^\//, ''));
        else if (e.Action === 'destroy') objects.removed('container', [id]);
      } else if (e.Type === 'volume' && e.Action === 'destroy') objects.removed('volume', [id]);
      else if (e.Type === 'network' && e.Action === 'destroy') objects.removed('network', [id]);
    } catch (err) {
      opts.onError(`keeping object records: ${(err as Error).message}`);
    }
  };

  const reconcile = async () => {
    defaults = daemonDefaults(await reader.getJson<InfoSummary>('/info'));
    const listedAt = new Date().toISOString();
    const containers = await reader.getJson<ContainerSummary[]>('/containers/json?all=1');
    const volumes = await reader.getJson<{ Volumes?: { Name: string }[] | null }>('/volumes');
    const networks = await reader.getJson<{ Id: string; Name: string }[]>('/networks');
    objects.reconcile(
      'container',
      containers.map((c) => ({ id: c.Id, name: (c.Names ?? []).map((n) => n.replace(/^\//, '')).find((n) => !n.includes('/')) ?? null })),
      listedAt,
    );
    objects.reconcile(
      'volume',
      (volumes.Volumes ?? []).map((v) => ({ id: v.Name })),
      listedAt,
    );
    objects.reconcile(
      'network',
      networks.map((n) => ({ id: n.Id, name: n.Name })),
      listedAt,
    );
    // Containers nobody is known to own are judged by their settings: fetch those once.
    for (const r of objects.list('container')) if (r.owner === null && r.config === null) await inspectContainer(r.id, true);
  };

  const notReady = (why: string) => {
    synced = false;
    objects.notReady = why;
  };

  const connect = () => {
    retry = undefined;
    if (closed) return;
    notReady("docker-authz is reading the daemon's objects");
    const s = streamEvents(opts.socketPath, { type: ['container', 'volume', 'network'] }, opts.headers, onEvent);
    stream = s;
    s.subscribed
      .then(reconcile)
      .then(() => {
        if (closed || stream !== s) return;
        synced = true;
        objects.notReady = undefined;
        backoff = 1000;
        opts.onSynced?.();
      })
      .catch((err: Error) => {
        notReady(`docker-authz cannot read the daemon's objects (${err.message})`);
        opts.onError(`cannot read the daemon's objects (${err.message}); retrying`);
        s.close();
      });
    void s.ended.then((why) => {
      if (closed || stream !== s) return;
      notReady(`docker-authz lost the daemon's event stream${why ? ` (${why})` : ''}`);
      if (why) opts.onError(`daemon event stream: ${why}; reconnecting`);
      retry = setTimeout(connect, backoff);
      retry.unref();
      backoff = Math.min(backoff * 2, maxBackoff);
    });
  };

  connect();
  return {
    get synced() {
      return synced;
    },
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      stream?.close();
    },
  };
}
