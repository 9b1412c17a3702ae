import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { codes, codedError } from '../errors.js';

export type Db = Database.Database;

export const STATE_FILE = 'state.db';

// Each entry moves the schema one version forward; a database never goes back. Several workers may
// open it at once: migrations run inside one write transaction, so only the first does the work.
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE greetings (identity TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE policy_last_good (
     id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, text TEXT NOT NULL, sha256 TEXT NOT NULL, at TEXT NOT NULL
   );`,
  `CREATE TABLE metrics (key TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;`,
  `CREATE TABLE objects (
     kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT, owner TEXT, parent TEXT, config TEXT, created TEXT NOT NULL,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE INDEX objects_by_name ON objects (kind, name);
   CREATE INDEX objects_by_parent ON objects (parent);`,
];

/** Leftovers of interrupted writes by earlier versions (hello.json.<pid>.tmp). */
const STALE_TMP = /^hello\.json\.\d+\.tmp$/;

const CORRUPT = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

export interface OpenedDb {
  readonly db: Db;
  /** Things the operator should know (a damaged database moved aside, stale files removed). */
  readonly notes: readonly string[];
}

function migrate(db: Db): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    if (version < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function openFile(file: string): Db {
  const db = new Database(file, { timeout: 2000 });
  try {
    // WAL: readers never wait for the writer and several processes share the file; FULL: a
    // committed greeting or ownership record survives kill -9 and power loss.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens (creating if needed) the state database in `dir`, shared by every worker and the CLI.
 * Throws a STATE_UNAVAILABLE error when the directory or the file cannot be used; a file that is
 * not a database is moved aside (which fails closed: nobody is greeted, no object has a known owner).
 */
export function openDb(dir: string): OpenedDb {
  const notes: string[] = [];
  const file = join(dir, STATE_FILE);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      if (!STALE_TMP.test(name)) continue;
      rmSync(join(dir, name), { force: true });
      notes.push(`removed ${name}, left by an interrupted write`);
    }
    try {
      return { db: openFile(file), notes };
    } catch (err) {
      if (!CORRUPT.has((err as { code?: string }).code ?? '')) throw err;
      const aside = `${file}.corrupt-${Date.now()}`;
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${aside}${suffix}`, { force: true });
      renameSync(file, aside);
      for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      notes.push(`${file} was not a usable database (${(err as Error).message}); it was moved to ${aside} and a new one was started`);
      return { db: openFile(file), notes };
    }
  } catch (err) {
    // First line only: this reaches users' terminals (better-sqlite3's load errors list every path it tried).
    throw codedError(codes.STATE_UNAVAILABLE, `cannot use the state database ${file}: ${(err as Error).message.split('\n')[0]}`, err);
  }
}
