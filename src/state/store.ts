import { join } from 'node:path';
import { codes, codedError } from '../errors.js';
import { openDb, STATE_FILE, type Db } from './db.js';
import { importHelloJson } from './hello-json.js';

export interface StateHealth {
  readonly ok: boolean;
  readonly file: string;
  /** Why the database cannot be used now (the plugin then fails closed), if it cannot. */
  readonly error?: string;
  /** Operations that failed since start (a full disk, an I/O error). */
  readonly errors: number;
  readonly lastError?: string;
}

export interface StateEvents {
  /** Something the operator should know: a damaged file moved aside, old state imported. */
  readonly onNote?: (message: string) => void;
  /** The database could not be opened, or an operation on it failed. */
  readonly onError?: (message: string) => void;
  /** The database can be used again after it could not be opened. */
  readonly onRecover?: (message: string) => void;
}

/**
 * The state database shared by every worker and the CLI (SQLite in WAL mode). It never stops the
 * plugin: when the directory or the file cannot be used the store is "unavailable", every read
 * answers as if nothing were recorded (nobody greeted, no owner known: the gate and the rules fail
 * closed), writes throw, and opening is retried every `retryMs` until it works.
 */
export class StateStore {
  readonly file: string;
  private current: Db | undefined;
  private openError: string | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly events: StateEvents = {},
    private readonly retryMs = 5000,
  ) {
    this.file = join(dir, STATE_FILE);
    this.open();
  }

  private open(): void {
    this.retry = undefined;
    if (this.closed) return;
    try {
      const { db, notes } = openDb(this.dir);
      for (const note of [...notes, ...importHelloJson(this.dir, db)]) this.events.onNote?.(note);
      const wasDown = this.openError;
      this.current = db;
      this.openError = undefined;
      if (wasDown) this.events.onRecover?.(`state database ${this.file} is usable again`);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.openError) this.events.onError?.(`${message}; failing closed and retrying every ${this.retryMs / 1000} s`);
      this.openError = message;
      this.retry = setTimeout(() => this.open(), this.retryMs);
      this.retry.unref();
    }
  }

  private failed(err: unknown): void {
    this.failures++;
    this.lastError = `${new Date().toISOString()} ${(err as Error).message}`;
    this.events.onError?.(`state database operation failed: ${(err as Error).message}`);
  }

  /** Runs a read; when the database is unavailable or the read fails, answers `fallback`. */
  read<T>(fn: (db: Db) => T, fallback: T): T {
    const db = this.current;
    if (db === undefined) return fallback;
    try {
      return fn(db);
    } catch (err) {
      this.failed(err);
      return fallback;
    }
  }

  /** Runs a write (or a read that must not be answered by a fallback); throws when it cannot. */
  write<T>(fn: (db: Db) => T): T {
    const db = this.current;
    if (db === undefined) throw codedError(codes.STATE_UNAVAILABLE, this.openError ?? 'state database is closed');
    try {
      return fn(db);
    } catch (err) {
      this.failed(err);
      throw codedError(codes.STATE_UNAVAILABLE, `state database ${this.file}: ${(err as Error).message}`, err);
    }
  }

  /** Why reads are answered by fallbacks right now, if they are. */
  get unavailable(): string | undefined {
    return this.openError;
  }

  health(): StateHealth {
    return {
      ok: this.current !== undefined,
      file: this.file,
      ...(this.openError !== undefined && { error: this.openError }),
      errors: this.failures,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.current?.close();
    this.current = undefined;
    this.openError ??= 'state database is closed';
  }
}
