import type Database from 'better-sqlite3';
import type { ObjectView, OwnedObject, Resolved as ResolvedAs } from '../policy/state-view.js';
import type { Db } from './db.js';
import type { StateStore } from './store.js';

/** What the plugin records about the daemon's objects, to know whose each one is. */
export type ObjectKind = 'container' | 'volume' | 'network' | 'exec';

export interface ObjectRecord extends OwnedObject {
  readonly kind: ObjectKind;
  /** Full ID (containers, networks, execs) or the name (volumes). */
  readonly id: string;
  /** A container's or network's name (containers without the leading "/"). */
  readonly name: string | null;
  /** The identity that created it; null when the plugin did not see it created. */
  readonly owner: string | null;
  /** An exec's container, or the container an anonymous volume was made for. */
  readonly parent: string | null;
  /** A container's settings as a create body (JSON), to judge it as a create would be judged. */
  readonly config: string | null;
  readonly created: string;
}

export type Resolved = ResolvedAs<ObjectRecord>;

interface Statements {
  readonly byId: Database.Statement<[ObjectKind, string], ObjectRecord>;
  readonly byName: Database.Statement<[ObjectKind, string], ObjectRecord>;
  readonly byPrefix: Database.Statement<[ObjectKind, string, string], ObjectRecord>;
  /** Changes when another connection (another worker, the CLI) commits. */
  readonly dataVersion: Database.Statement<[], number>;
}

const prepared = new WeakMap<Db, Statements>();

function statements(db: Db): Statements {
  let s = prepared.get(db);
  if (!s) {
    const cols = 'kind, id, name, owner, parent, config, created';
    s = {
      byId: db.prepare<[ObjectKind, string], ObjectRecord>(`SELECT ${cols} FROM objects WHERE kind = ? AND id = ?`),
      byName: db.prepare<[ObjectKind, string], ObjectRecord>(`SELECT ${cols} FROM objects WHERE kind = ? AND name = ? LIMIT 2`),
      // IDs are lowercase hex: the rows whose id starts with the prefix are those in [prefix, prefix + 'g').
      byPrefix: db.prepare<[ObjectKind, string, string], ObjectRecord>(
        `SELECT ${cols} FROM objects WHERE kind = ? AND id >= ? AND id < ? LIMIT 2`,
      ),
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    };
    prepared.set(db, s);
  }
  return s;
}

const HEX = /^[0-9a-f]+$/;
const UNREADABLE = 'docker-authz cannot read its state database';

/**
 * Whose each container, volume, network and exec is, in the shared state database, and references
 * resolved the way the daemon resolves them. Every worker sees a change the moment it is committed.
 * Reads fail closed: when the database cannot be read, a reference does not resolve.
 */
export class ObjectStore implements ObjectView {
  /** Why the records may not match the daemon right now (set by the mirror), if they may not. */
  notReady: string | undefined = "docker-authz has not read the daemon's objects yet";

  // Resolved references, valid until anyone writes: this process's writes clear it, and another
  // process's commit changes the database's data_version. One cheap query per call instead of up
  // to three lookups.
  private readonly memo = new Map<string, Resolved | ObjectRecord | undefined>();
  private memoVersion = -1;

  constructor(private readonly state: StateStore) {}

  private remembered<T extends Resolved | ObjectRecord | undefined>(db: Db, key: string, look: () => T): T {
    const version = statements(db).dataVersion.get()!;
    if (version !== this.memoVersion || this.memo.size >= 10_000) {
      this.memo.clear();
      this.memoVersion = version;
    }
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const found = look();
    this.memo.set(key, found);
    return found;
  }

  private changed<T>(fn: (db: Db) => T): T {
    try {
      return this.state.write(fn);
    } finally {
      this.memo.clear();
    }
  }

  /**
   * The container the daemon acts on for `ref` (moby's GetContainer): a full ID, then an exact name
   * (with or without the leading "/"), then a unique ID prefix.
   */
  container(ref: string): Resolved {
    return this.state.read(
      (db) =>
        this.remembered<Resolved>(db, `c${ref}`, () => {
          if (ref === '') return { ok: false, why: 'an empty container reference' };
          const s = statements(db);
          const exact = s.byId.get('container', ref);
          if (exact) return { ok: true, record: exact };
          const byName = s.byName.all('container', ref.startsWith('/') ? ref.slice(1) : ref);
          if (byName.length === 1) return { ok: true, record: byName[0]! };
          return this.byPrefix(s, 'container', ref);
        }),
      { ok: false, why: UNREADABLE } as Resolved,
    );
  }

  /** The network the daemon acts on for `ref` (moby's FindNetwork): full ID, unique name, unique ID prefix. */
  network(ref: string): Resolved {
    return this.state.read(
      (db) =>
        this.remembered<Resolved>(db, `n${ref}`, () => {
          if (ref === '') return { ok: false, why: 'an empty network reference' };
          const s = statements(db);
          const exact = s.byId.get('network', ref);
          if (exact) return { ok: true, record: exact };
          const byName = s.byName.all('network', ref);
          if (byName.length > 1) return { ok: false, why: `network ${JSON.stringify(ref)} is ambiguous (several have that name)` };
          if (byName.length === 1) return { ok: true, record: byName[0]! };
          return this.byPrefix(s, 'network', ref);
        }),
      { ok: false, why: UNREADABLE } as Resolved,
    );
  }

  /** A volume by its exact name; undefined when none is recorded. */
  volume(name: string): ObjectRecord | undefined | 'unreadable' {
    return this.state.read<ObjectRecord | undefined | 'unreadable'>(
      (db) => this.remembered(db, `v${name}`, () => statements(db).byId.get('volume', name)),
      'unreadable',
    );
  }

  /** An exec by its full ID (the daemon takes no prefix for execs). */
  exec(id: string): Resolved {
    return this.state.read(
      (db) =>
        this.remembered<Resolved>(db, `e${id}`, () => {
          const r = statements(db).byId.get('exec', id);
          return r ? { ok: true, record: r } : { ok: false, why: `no exec ${JSON.stringify(id)} is known` };
        }),
      { ok: false, why: UNREADABLE } as Resolved,
    );
  }

  private byPrefix(s: Statements, kind: 'container' | 'network', ref: string): Resolved {
    if (!HEX.test(ref)) return { ok: false, why: `no ${kind} ${JSON.stringify(ref)} is known` };
    const rows = s.byPrefix.all(kind, ref, `${ref}g`);
    if (rows.length > 1) return { ok: false, why: `${kind} ID prefix ${JSON.stringify(ref)} is ambiguous` };
    return rows.length === 1 ? { ok: true, record: rows[0]! } : { ok: false, why: `no ${kind} ${JSON.stringify(ref)} is known` };
  }

  // ---- writes (the daemon confirmed something; throw when they cannot be recorded)

  /**
   * Records an object the daemon confirmed it created. An ID is new by construction, so a record
   * made first without an owner (from the daemon's event stream) gets the owner; a volume (named by
   * its creator, and "created" again when it already exists) never changes hands.
   */
  created(o: {
    kind: ObjectKind;
    id: string;
    name?: string | null;
    owner: string | null;
    parent?: string | null;
    config?: string | null;
  }): void {
    const keepOwner = o.kind === 'volume' ? 'objects.owner' : 'coalesce(objects.owner, excluded.owner)';
    this.changed((db) => {
      db.transaction(() => {
        // A container name belongs to one container: a row still holding it is one the daemon removed.
        if (o.kind === 'container' && o.name)
          db.prepare("UPDATE objects SET name = NULL WHERE kind = 'container' AND name = ? AND id <> ?").run(o.name, o.id);
        db.prepare(
          `INSERT INTO objects (kind, id, name, owner, parent, config, created) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (kind, id) DO UPDATE SET
             name = coalesce(excluded.name, objects.name),
             owner = ${keepOwner},
             parent = coalesce(objects.parent, excluded.parent),
             config = coalesce(excluded.config, objects.config)`,
        ).run(o.kind, o.id, o.name ?? null, o.owner, o.parent ?? null, o.config ?? null, new Date().toISOString());
        // Anonymous volumes made for this container become its owner's, once the owner is known.
        if (o.kind === 'container' && o.owner !== null) {
          db.prepare("UPDATE objects SET owner = ? WHERE kind = 'volume' AND parent = ? AND owner IS NULL").run(o.owner, o.id);
        }
      })();
    });
  }

  renamed(kind: 'container' | 'network', id: string, name: string): void {
    this.changed((db) => {
      db.transaction(() => {
        if (kind === 'container')
          db.prepare("UPDATE objects SET name = NULL WHERE kind = 'container' AND name = ? AND id <> ?").run(name, id);
        db.prepare('UPDATE objects SET name = ? WHERE kind = ? AND id = ?').run(name, kind, id);
      })();
    });
  }

  /** Forgets removed objects (a container takes its execs along). */
  removed(kind: ObjectKind, ids: readonly string[]): void {
    this.changed((db) => {
      const del = db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?');
      const execs = db.prepare("DELETE FROM objects WHERE kind = 'exec' AND parent = ?");
      db.transaction(() => {
        for (const id of ids) {
          del.run(kind, id);
          if (kind === 'container') execs.run(id);
        }
      })();
    });
  }

  /**
   * Brings the records in line with what the daemon has (at start, and after the event stream was
   * interrupted): objects it no longer has are forgotten; objects it has that were never recorded
   * are added without an owner (made before the plugin, or while it was off: admins only).
   */
  reconcile(
    kind: ObjectKind,
    present: readonly { id: string; name?: string | null; parent?: string | null }[],
    /** When the daemon was asked: records made since (a create confirmed meanwhile) are kept. */
    listedAt?: string,
  ): void {
    this.changed((db) => {
      db.transaction(() => {
        const seen = new Set(present.map((o) => o.id));
        const del = db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?');
        const older = db
          .prepare('SELECT id FROM objects WHERE kind = ? AND created < ?')
          .pluck()
          .all(kind, listedAt ?? '~') as string[]; // '~' sorts after every ISO time
        for (const id of older) if (!seen.has(id)) del.run(kind, id);
        const add = db.prepare(
          `INSERT INTO objects (kind, id, name, owner, parent, config, created) VALUES (?, ?, ?, NULL, ?, NULL, ?)
           ON CONFLICT (kind, id) DO UPDATE SET name = coalesce(excluded.name, objects.name)`,
        );
        const now = new Date().toISOString();
        for (const o of present) add.run(kind, o.id, o.name ?? null, o.parent ?? null, now);
      })();
    });
  }

  /** Gives an object whose owner is unknown (or anyone's, with `force`) to `owner`. */
  adopt(kind: ObjectKind, id: string, owner: string, force = false): boolean {
    return this.changed(
      (db) =>
        db.prepare(`UPDATE objects SET owner = ? WHERE kind = ? AND id = ?${force ? '' : ' AND owner IS NULL'}`).run(owner, kind, id)
          .changes === 1,
    );
  }

  list(kind?: ObjectKind): ObjectRecord[] {
    return this.state.write((db) =>
      kind === undefined
        ? (db.prepare('SELECT * FROM objects ORDER BY kind, created').all() as ObjectRecord[])
        : (db.prepare('SELECT * FROM objects WHERE kind = ? ORDER BY created').all(kind) as ObjectRecord[]),
    );
  }
}
