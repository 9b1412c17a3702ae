import { pino, type Logger } from 'pino';
import { createSink, type LogSink } from './sink.js';

export type { Logger };

export const LOGGER_NAME = 'docker-authz';

export type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * The start of every log line, as pino writes it with the options below: level label, ISO time and
 * the logger's name. The decision log writes its lines by hand from the same prefix, so both kinds
 * of line share one format (a test holds them to it).
 */
export function linePrefix(level: Level, isoTime: string): string {
  return `{"level":"${level}","time":"${isoTime}","name":"${LOGGER_NAME}"`;
}

export interface PluginLog {
  readonly log: Logger;
  readonly sink: LogSink;
}

// Log objects are built from a whitelist of fields (identity, method, decoded path, operation,
// decision): never a body or a query string, which carry Env values, registry credentials and, on
// some daemons, `docker login` passwords. No redaction pass is needed on the hot path.
export function createLogger(level: string, sink?: LogSink): PluginLog {
  const out =
    sink ??
    createSink({
      dropReport: (count, total) =>
        `${linePrefix('warn', new Date().toISOString())},"dropped":${count},"droppedTotal":${total},"msg":"log lines dropped: the log reader fell behind"}\n`,
    });
  const log = pino(
    {
      level,
      base: { name: LOGGER_NAME },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => out.write(line) },
  );
  return { log, sink: out };
}
