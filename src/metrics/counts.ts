/** Upper bounds (seconds) of the decision-time histogram: a decision takes microseconds. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export type Outcome = 'allow' | 'deny' | 'audit';

const SEP = '\t';

/**
 * What this worker counted since its last flush to the state database, kept as plain numbers:
 * recording a decision is a map update and an array increment, nothing more.
 */
export class Counts {
  private deltas = new Map<string, number>();
  private readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  private sum = 0;

  add(key: string, n = 1): void {
    this.deltas.set(key, (this.deltas.get(key) ?? 0) + n);
  }

  decision(op: string | undefined, rule: string | undefined, outcome: Outcome, seconds: number): void {
    this.add(`decision${SEP}${op ?? ''}${SEP}${rule ?? ''}${SEP}${outcome}`);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
  }

  /** Takes what was counted since the last call (and forgets it). */
  take(): Map<string, number> {
    const out = this.deltas;
    this.deltas = new Map();
    const merge = (key: string, n: number) => n > 0 && out.set(key, (out.get(key) ?? 0) + n);
    for (let i = 0; i < this.buckets.length; i++) {
      merge(`latency${SEP}${i}`, this.buckets[i]!);
      this.buckets[i] = 0;
    }
    merge('latency_sum', this.sum);
    this.sum = 0;
    return out;
  }

  /** Puts deltas back (a flush that failed): nothing counted is lost while the database is down. */
  putBack(deltas: ReadonlyMap<string, number>): void {
    for (const [k, v] of deltas) this.add(k, v);
  }

  /** What is counted but not flushed, without forgetting it. */
  pending(): Map<string, number> {
    const taken = this.take();
    this.putBack(taken);
    return taken;
  }
}

export function splitKey(key: string): string[] {
  return key.split(SEP);
}
