import type { StateStore } from './store.js';

/** The last policy that was valid and in force, kept so that a restart with a broken file still serves it. */
export interface LastGoodPolicy {
  readonly source: string;
  readonly text: string;
  readonly sha256: string;
  readonly at: string;
}

const GENERATION = 'policy-reload-generation';

/** Remembers `policy` as the last good one (a no-op when it already is). Throws when it cannot. */
export function saveLastGood(state: StateStore, policy: Omit<LastGoodPolicy, 'at'>, now = new Date()): void {
  state.write((db) =>
    db
      .prepare(
        `INSERT INTO policy_last_good (id, source, text, sha256, at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET source = excluded.source, text = excluded.text, sha256 = excluded.sha256, at = excluded.at
         WHERE policy_last_good.sha256 <> excluded.sha256 OR policy_last_good.source <> excluded.source`,
      )
      .run(policy.source, policy.text, policy.sha256, now.toISOString()),
  );
}

export function loadLastGood(state: StateStore): LastGoodPolicy | undefined {
  return state.read(
    (db) => db.prepare('SELECT source, text, sha256, at FROM policy_last_good WHERE id = 1').get() as LastGoodPolicy | undefined,
    undefined,
  );
}

/**
 * A counter every worker watches: an explicit reload (`docker-authz reload`, SIGHUP) reaches one
 * worker, which bumps it so that the others reload too.
 */
export function reloadGeneration(state: StateStore): number {
  return state.read((db) => Number(db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(GENERATION) ?? 0), 0);
}

export function bumpReloadGeneration(state: StateStore): number {
  return state.write((db) =>
    Number(
      db
        .prepare(
          `INSERT INTO meta (key, value) VALUES (?, '1')
           ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value`,
        )
        .pluck()
        .get(GENERATION),
    ),
  );
}
