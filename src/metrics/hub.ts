import { addCounts, readCounts } from '../state/metrics-store.js';
import type { StateStore } from '../state/store.js';
import { Counts } from './counts.js';

/**
 * This worker's counters and their totals over every worker: what the worker counts goes to the
 * state database every `flushMs`, so a scrape of any worker sums them all (and those of workers
 * since replaced). What cannot be flushed is kept until the database works again.
 */
export class MetricsHub {
  readonly counts = new Counts();
  private droppedSeen = 0;
  private stateErrorsSeen = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly state: StateStore,
    /** Lines the log has dropped since start. */
    private readonly logDropped: () => number,
    flushMs = 2000,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  flush(): void {
    const dropped = this.logDropped();
    if (dropped > this.droppedSeen) this.counts.add('log_dropped', dropped - this.droppedSeen);
    this.droppedSeen = dropped;
    const stateErrors = this.state.health().errors;
    if (stateErrors > this.stateErrorsSeen) this.counts.add('state_errors', stateErrors - this.stateErrorsSeen);
    this.stateErrorsSeen = stateErrors;
    const deltas = this.counts.take();
    if (deltas.size === 0) return;
    try {
      addCounts(this.state, deltas);
    } catch {
      this.counts.putBack(deltas);
    }
  }

  totals(): Map<string, number> {
    const sum = readCounts(this.state);
    for (const [k, v] of this.counts.pending()) sum.set(k, (sum.get(k) ?? 0) + v);
    return sum;
  }

  /** Decisions so far, by outcome, over every worker. */
  decisions(): Record<'allow' | 'deny' | 'audit', number> {
    const out = { allow: 0, deny: 0, audit: 0 };
    for (const [key, n] of this.totals()) {
      if (!key.startsWith('decision\t')) continue;
      const outcome = key.slice(key.lastIndexOf('\t') + 1) as keyof typeof out;
      if (outcome in out) out[outcome] += n;
    }
    return out;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
