import type Database from 'better-sqlite3';
import type { GreetingView } from '../policy/gate.js';
import type { Db } from './db.js';
import type { StateStore } from './store.js';

export interface Greeting {
  readonly identity: string;
  readonly at: string;
}

interface Statements {
  readonly has: Database.Statement<[string], number>;
  readonly any: Database.Statement<[], number>;
  readonly count: Database.Statement<[], number>;
  readonly add: Database.Statement<[string, string]>;
  readonly list: Database.Statement<[], Greeting>;
}
const prepared = new WeakMap<Db, Statements>();

function statements(db: Db): Statements {
  let s = prepared.get(db);
  if (!s) {
    s = {
      has: db.prepare<[string], number>('SELECT 1 FROM greetings WHERE identity = ?').pluck(),
      any: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM greetings)').pluck(),
      count: db.prepare<[], number>('SELECT count(*) FROM greetings').pluck(),
      add: db.prepare<[string, string]>('INSERT OR IGNORE INTO greetings (identity, at) VALUES (?, ?)'),
      list: db.prepare<[], Greeting>('SELECT identity, at FROM greetings ORDER BY at, identity'),
    };
    prepared.set(db, s);
  }
  return s;
}

/**
 * Who has said hello, in the shared state database: every worker sees a greeting or a reset the
 * moment it is committed. Reads answer "not greeted" when the database cannot be read (the gate
 * fails closed, and says why through `unavailable`).
 */
export class Greetings implements GreetingView {
  constructor(private readonly state: StateStore) {}

  isGreeted(identity: string): boolean {
    return this.state.read((db) => statements(db).has.get(identity) === 1, false);
  }

  get anyGreeted(): boolean {
    return this.state.read((db) => statements(db).any.get() === 1, false);
  }

  get unavailable(): string | undefined {
    return this.state.unavailable;
  }

  /** Records a greeting (committed when this returns); false when the identity had one already. */
  greet(identity: string, now = new Date()): boolean {
    return this.state.write((db) => statements(db).add.run(identity, now.toISOString()).changes === 1);
  }

  /** Forgets these identities, or everyone; returns who was forgotten. */
  reset(identities?: readonly string[]): string[] {
    return this.state.write((db) =>
      db
        .transaction(() => {
          const gone =
            identities ??
            statements(db)
              .list.all()
              .map((g) => g.identity);
          const del = db.prepare('DELETE FROM greetings WHERE identity = ?');
          return gone.filter((id) => del.run(id).changes === 1);
        })
        .immediate(),
    );
  }

  /** How many identities have said hello (0 when the database cannot be read). */
  count(): number {
    return this.state.read((db) => statements(db).count.get() ?? 0, 0);
  }

  list(): Greeting[] {
    return this.state.write((db) => statements(db).list.all());
  }
}
