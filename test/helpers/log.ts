import { createLogger, type PluginLog } from '../../src/log/logger.js';
import type { LogSink } from '../../src/log/sink.js';

export interface MemoryLog extends PluginLog {
  /** Every line written so far, parsed. */
  readonly records: Record<string, unknown>[];
}

/** The plugin's real logger, writing into memory. */
export function memoryLog(level = 'debug'): MemoryLog {
  const records: Record<string, unknown>[] = [];
  const sink: LogSink = {
    write(text) {
      for (const line of text.split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
    },
    dropped: 0,
    drain: () => Promise.resolve(),
  };
  return { ...createLogger(level, sink), records };
}

/** A logger that writes nothing. */
export const silentLog = (): PluginLog => createLogger('silent', { write: () => undefined, dropped: 0, drain: () => Promise.resolve() });
