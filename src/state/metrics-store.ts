import type { StateStore } from './store.js';

/**
 * Counters shared by every worker: each adds what it counted since its last flush, so a scrape of
 * any worker sees the totals of all (and of workers that have since been replaced).
 */
export function addCounts(state: StateStore, deltas: ReadonlyMap<string, number>): void {
  state.write((db) => {
    const add = db.prepare('INSERT INTO metrics (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value');
    db.transaction(() => {
      for (const [key, value] of deltas) add.run(key, value);
    }).immediate();
  });
}

export function readCounts(state: StateStore): Map<string, number> {
  return state.read(
    (db) => new Map((db.prepare('SELECT key, value FROM metrics').raw().all() as [string, number][]).map(([k, v]) => [k, v])),
    new Map<string, number>(),
  );
}
