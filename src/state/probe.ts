import type { StateStore } from './store.js';

const KEY = 'consult-probe';

/**
 * `docker-authz status` asks the daemon for a ping carrying a nonce; the plugin notes the nonce
 * when the daemon sends it that ping. Finding it afterwards proves the daemon consults the plugin
 * (`docker info` does not list legacy authorization plugins).
 */
export function noteProbe(state: StateStore, nonce: string): void {
  state.write((db) =>
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(KEY, nonce),
  );
}

export function probeSeen(state: StateStore, nonce: string): boolean {
  return state.read((db) => db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(KEY) === nonce, false);
}
