import cluster from 'node:cluster';
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Standard output, written in batches: lines collect for up to `intervalMs` (or `maxBytes`) and
 * leave in one write(2). A write per decision would cost more CPU than the decision itself. The
 * price is that a crash can lose the last few milliseconds of log lines; flush() runs on shutdown
 * and at exit.
 */
export function batchedStdout(fd = 1, intervalMs = 5, maxBytes = 16 * 1024): DestinationStream & { flush(): void } {
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  // pm2 cluster workers: pm2 captures output by wrapping process.stdout.write; fd 1 is the pm2
  // daemon's own log there.
  const viaStream = fd === 1 && cluster.isWorker;
  if (viaStream) process.stdout.on('error', () => undefined);
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    bytes = 0;
    try {
      if (viaStream) process.stdout.write(text);
      else writeSync(fd, text);
    } catch {
      // stdout gone (EPIPE) or full (EAGAIN on a non-blocking pipe): a lost log line must never stop a decision.
    }
  };
  process.once('exit', flush);
  return {
    write(line: string) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= maxBytes) flush();
      else timer ??= setTimeout(flush, intervalMs).unref();
    },
    flush,
  };
}

// Log objects are built from a whitelist of fields (identity, method, decoded path, operation,
// decision): never a body or a query string, which carry Env values, registry credentials and, on
// some daemons, `docker login` passwords. No redaction pass is needed on the hot path.
export function createLogger(level: string, destination: DestinationStream = batchedStdout()): Logger {
  return pino(
    {
      level,
      base: { name: 'docker-authz' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
