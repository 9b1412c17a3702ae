import { randomBytes } from 'node:crypto';
import type { StateStore } from './store.js';

const KEY = 'self-token';

/**
 * The secret the plugin puts on its own read-only calls to the daemon (listing and inspecting
 * objects, following events), which the daemon sends back through AuthZReq: every worker must
 * recognise every worker's calls, so it lives in the state database (root-only). When the database
 * cannot be used, a worker makes one of its own.
 */
export function selfToken(state: StateStore): string {
  try {
    return state.write((db) => {
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(KEY, randomBytes(32).toString('hex'));
      return db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(KEY) as string;
    });
  } catch {
    return randomBytes(32).toString('hex');
  }
}
