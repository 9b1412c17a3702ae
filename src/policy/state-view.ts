import type { GreetingView } from './gate.js';

// What evaluation may read of the shared state: who has said hello, and whose each of the daemon's
// objects is. Read-only views (the state database behind them), built once and passed in;
// evaluation never writes.

export interface OwnedObject {
  /** Full ID (containers, networks, execs) or the name (volumes). */
  readonly id: string;
  readonly name: string | null;
  /** The identity that created it; null when the plugin did not see it created. */
  readonly owner: string | null;
  /** An exec's container. */
  readonly parent: string | null;
  /** For a container the plugin did not see created: its inspect output and the daemon's defaults (JSON). */
  readonly config: string | null;
}

export type Resolved<T extends OwnedObject = OwnedObject> =
  { readonly ok: true; readonly record: T } | { readonly ok: false; readonly why: string };

export interface ObjectView {
  /** False until the records were reconciled with the daemon (at start, after the event stream broke), with why. */
  readonly notReady: string | undefined;
  container(ref: string): Resolved;
  network(ref: string): Resolved;
  /** A volume by its exact name; undefined when none is recorded. */
  volume(name: string): OwnedObject | undefined | 'unreadable';
  exec(id: string): Resolved;
}

export interface StateView {
  readonly greetings: GreetingView;
  /** Absent where no records are kept (`docker-authz explain`, tests): references cannot be resolved. */
  readonly objects?: ObjectView | undefined;
}
