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
  /** Longest wait between reconnection attempts. Default 30 s. */
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

/** A container's settings as the create body that would make it (what the rules judge). */
function createBodyOf(c: ContainerInspect): string {
  return JSON.stringify({
    ...c.Config,
    HostConfig: c.HostConfig ?? {},
    NetworkingConfig: { EndpointsConfig: c.NetworkSettings?.Networks ?? {} },
  });
}

/**
 * Keeps the object records in step with the daemon: everything it has at start (or after the event
 * stream broke) is reconciled, then its events keep names, removals and anonymous volumes current.
 * Owners come from the AuthZRes of each create, not from here: an object first seen here has none
 * (made before the plugin, or while it was off).
 */
export function startMirror(opts: MirrorOptions): Mirror {
  const { objects, reader } = opts;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
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
      ...(withConfig && { config: createBodyOf(c) }),
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
    const containers = await reader.getJson<ContainerSummary[]>('/containers/json?all=1');
    const volumes = await reader.getJson<{ Volumes?: { Name: string }[] | null }>('/volumes');
    const networks = await reader.getJson<{ Id: string; Name: string }[]>('/networks');
    objects.reconcile(
      'container',
      containers.map((c) => ({ id: c.Id, name: (c.Names ?? []).map((n) => n.replace(/^\//, '')).find((n) => !n.includes('/')) ?? null })),
    );
    objects.reconcile(
      'volume',
      (volumes.Volumes ?? []).map((v) => ({ id: v.Name })),
    );
    objects.reconcile(
      'network',
      networks.map((n) => ({ id: n.Id, name: n.Name })),
    );
    // Containers nobody is known to own are judged by their settings: fetch those once.
    for (const r of objects.list('container')) if (r.owner === null && r.config === null) await inspectContainer(r.id, true);
  };

  const connect = () => {
    retry = undefined;
    if (closed) return;
    synced = false;
    const s = streamEvents(opts.socketPath, { type: ['container', 'volume', 'network'] }, opts.headers, onEvent);
    stream = s;
    s.subscribed
      .then(reconcile)
      .then(() => {
        if (closed || stream !== s) return;
        synced = true;
        backoff = 1000;
        opts.onSynced?.();
      })
      .catch((err: Error) => {
        opts.onError(`cannot read the daemon's objects (${err.message}); retrying`);
        s.close();
      });
    void s.ended.then((why) => {
      if (closed || stream !== s) return;
      synced = false;
      if (why) opts.onError(`daemon event stream: ${why}; reconnecting in ${backoff / 1000} s`);
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
