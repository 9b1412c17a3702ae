import cluster from 'node:cluster';
import { pino } from 'pino';

/**
 * Where log lines go: standard output, without ever making a decision wait for the reader.
 *
 * Lines collect for up to `intervalMs` (or `batchBytes`) and leave in one write. Writes are
 * asynchronous (libuv's thread pool for an fd, the stream's own queue under pm2), and at most
 * `maxPendingBytes` wait for a reader that has fallen behind (a stuck journald, pm2's log pipe, a
 * full terminal): past that, whole batches are dropped and counted, and once the reader takes lines
 * again a warning with the count is written first.
 */
export interface LogSink {
  write(line: string): void;
  /** Lines dropped since start because the reader fell behind. */
  readonly dropped: number;
  /** Writes what is batched and waits (up to `deadlineMs`) for the reader to take it. */
  drain(deadlineMs: number): Promise<void>;
}

export interface SinkOptions {
  readonly fd?: number;
  readonly intervalMs?: number;
  readonly batchBytes?: number;
  readonly maxPendingBytes?: number;
  /** Builds the line that reports `count` dropped lines (in the logger's format). */
  readonly dropReport?: (count: number, total: number) => string;
}

/** Where batches go: accepts a batch or refuses it (the reader is too far behind). */
interface Target {
  offer(batch: string): boolean;
  drain(deadlineMs: number): Promise<void>;
}

function deadline(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

// An fd (a file, a pipe, a terminal, journald's socket): pino's asynchronous destination (sonic-boom)
// writes it from the thread pool, so a reader that never reads blocks a pool thread, never the event loop.
function fdTarget(fd: number, maxPendingBytes: number): Target {
  const boom = pino.destination({ fd, sync: false, maxLength: maxPendingBytes });
  let refused = false;
  boom.on('drop', () => (refused = true));
  // EPIPE (the reader is gone) and the like: lines are lost, decisions go on.
  boom.on('error', () => undefined);
  let writing = false;
  boom.on('drain', () => (writing = false));
  return {
    offer(batch) {
      refused = false;
      writing = true;
      boom.write(batch);
      return !refused;
    },
    drain(deadlineMs) {
      if (!writing) return Promise.resolve();
      const d = deadline(deadlineMs);
      return Promise.race([new Promise<void>((resolve) => boom.once('drain', resolve)), d.promise]).finally(d.cancel);
    },
  };
}

// A stream (process.stdout in a pm2 cluster worker, where pm2 captures output by wrapping
// process.stdout.write): bytes are counted from write to its callback.
function streamTarget(stream: NodeJS.WritableStream, maxPendingBytes: number): Target {
  let pending = 0;
  const idle: (() => void)[] = [];
  stream.on('error', () => undefined);
  return {
    offer(batch) {
      if (pending + batch.length > maxPendingBytes) return false;
      pending += batch.length;
      stream.write(batch, () => {
        pending -= batch.length;
        if (pending === 0) idle.splice(0).forEach((f) => f());
      });
      return true;
    },
    drain(deadlineMs) {
      if (pending === 0) return Promise.resolve();
      const d = deadline(deadlineMs);
      return Promise.race([new Promise<void>((resolve) => idle.push(resolve)), d.promise]).finally(d.cancel);
    },
  };
}

export function createSink(opts: SinkOptions = {}): LogSink {
  const fd = opts.fd ?? 1;
  const intervalMs = opts.intervalMs ?? 5;
  const batchBytes = opts.batchBytes ?? 16 * 1024;
  const maxPendingBytes = opts.maxPendingBytes ?? 1024 * 1024;
  // pm2 cluster workers: fd 1 is the pm2 daemon's own log there.
  const target = fd === 1 && cluster.isWorker ? streamTarget(process.stdout, maxPendingBytes) : fdTarget(fd, maxPendingBytes);
  let lines: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let dropped = 0;
  let unreported = 0;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const count = lines.length;
    const batch = (unreported > 0 && opts.dropReport ? opts.dropReport(unreported, dropped) : '') + lines.join('');
    lines = [];
    bytes = 0;
    if (target.offer(batch)) {
      unreported = 0;
    } else {
      dropped += count;
      unreported += count;
    }
  };

  return {
    write(line) {
      lines.push(line);
      bytes += line.length;
      if (bytes >= batchBytes) flush();
      else timer ??= setTimeout(flush, intervalMs).unref();
    },
    get dropped() {
      return dropped;
    },
    drain(deadlineMs) {
      flush();
      return target.drain(deadlineMs);
    },
  };
}
