import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fromWire, type Prepared, type WirePrepared } from './prepare.js';

export interface DecodePoolOptions {
  /** Workers at most (default: the cores but one, at least 1, at most 2). */
  readonly size?: number;
  /** A call a worker has not answered within this is given up (and the worker replaced). */
  readonly timeoutMs?: number;
  /**
   * A worker that has not loaded within this is given up, with the call it was started for:
   * starting is not decoding, and takes long on a busy machine (or from src/, where the worker
   * compiles TypeScript first).
   */
  readonly startTimeoutMs?: number;
  /** Workers with nothing to do for this long are stopped (they are started again when needed). */
  readonly idleMs?: number;
  /** Told when a worker fails or times out (each affected call is then denied). */
  readonly onError?: (message: string, err?: unknown) => void;
  /** Another worker module, run without the parent's node options (tests). */
  readonly worker?: URL;
}

interface Job {
  readonly id: number;
  readonly body: Buffer;
  readonly done: (p: Prepared) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its module. */
  ready: boolean;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
}

// The worker entry: dist/decode-worker.js, bundled or not; src/decode-worker.ts when run from src/.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? '../decode-worker.ts' : '../decode-worker.js', import.meta.url);

/**
 * Reads and decodes big AuthZ calls in worker threads, so that a user's 1 MiB creates do not hold
 * up everyone else's small calls on the main thread: the worker runs the same prepare() (envelope
 * and normalize) the main thread runs for small calls, and the main thread decides from its result
 * as it would from its own. A call whose worker fails, dies or does not answer in time comes back
 * as `failed` (the handlers deny it, saying why); it is never allowed. Workers start on the first
 * big call and stop when idle, so a plugin that never sees one never pays for them.
 */
export class DecodePool {
  private readonly size: number;
  private readonly timeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly idleMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: DecodePoolOptions = {}) {
    this.size = opts.size ?? Math.max(1, Math.min(2, availableParallelism() - 1));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    this.idleMs = opts.idleMs ?? 30_000;
  }

  /** Workers running now. */
  get workers(): number {
    return this.slots.length;
  }

  /** Reads and decodes one call's body (the bytes are handed over: the caller must not use them again). */
  prepare(body: Buffer): Promise<Prepared> {
    if (this.closed) return Promise.resolve({ env: 'docker-authz is stopping', failed: 'docker-authz is stopping' });
    return new Promise((done) => {
      this.queue.push({ id: this.nextId++, body, done });
      this.dispatch();
    });
  }

  /** Stops every worker; calls still waiting are failed. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const job of this.queue.splice(0)) job.done(failure('docker-authz is stopping'));
    await Promise.all([...this.slots].map((s) => this.retire(s, 'docker-authz is stopping')));
  }

  private dispatch(): void {
    clearTimeout(this.idleTimer);
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      this.run(slot, this.queue.shift()!);
    }
    if (this.slots.every((s) => s.job === undefined)) {
      this.idleTimer = setTimeout(() => {
        for (const s of [...this.slots]) void this.retire(s);
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.opts.worker ?? WORKER, {
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      ...(this.opts.worker && { execArgv: [] }),
    });
    const slot: Slot = { worker, ready: false, job: undefined, timer: undefined };
    worker.on('message', (m: { id: number; prepared?: WirePrepared; error?: string; ready?: true }) => {
      if (m.ready) {
        slot.ready = true;
        if (slot.job) this.time(slot);
        return;
      }
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      this.finish(slot, m.prepared ? fromWire(m.prepared) : failure(`the decoding worker failed: ${m.error}`));
    });
    worker.on('error', (err) => this.lost(slot, `the decoding worker failed: ${err.message}`, err));
    worker.on('exit', (code) => this.lost(slot, `the decoding worker exited (code ${code})`));
    // The worker must not keep the process alive; an in-flight call holds its own timer.
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private run(slot: Slot, job: Job): void {
    slot.job = job;
    this.time(slot);
    const { body } = job;
    // Hand the bytes over without a copy when they own their memory.
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    slot.worker.postMessage({ id: job.id, body }, own ? [body.buffer as ArrayBuffer] : []);
  }

  // (Re)starts the clock on the slot's call: startTimeoutMs to load the worker, then timeoutMs to answer.
  private time(slot: Slot): void {
    clearTimeout(slot.timer);
    const ms = slot.ready ? this.timeoutMs : this.startTimeoutMs;
    slot.timer = setTimeout(() => {
      const message = `the decoding worker did not ${slot.ready ? 'answer' : 'start'} within ${ms / 1000} s`;
      this.opts.onError?.(`${message}; the call is denied and the worker replaced`);
      void this.retire(slot, message);
    }, ms);
  }

  private finish(slot: Slot, p: Prepared): void {
    const job = slot.job!;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    job.done(p);
    this.dispatch();
  }

  // A worker that died or errored: its call is failed, and the next call starts another.
  private lost(slot: Slot, message: string, err?: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    if (slot.job) {
      this.opts.onError?.(`${message}; the call is denied`, err);
      clearTimeout(slot.timer);
      slot.job.done(failure(message));
      slot.job = undefined;
    }
    if (!this.closed) this.dispatch();
  }

  private async retire(slot: Slot, reason?: string): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    if (slot.job) {
      clearTimeout(slot.timer);
      slot.job.done(failure(reason ?? 'the decoding worker was stopped'));
      slot.job = undefined;
    }
    await slot.worker.terminate();
    if (!this.closed) this.dispatch();
  }
}

const failure = (why: string): Prepared => ({ env: why, failed: `docker-authz could not decode this call: ${why}` });
