import { linePrefix, type PluginLog } from './logger.js';

/** One line per AuthZReq decision. Only these fields: never a body, a query string or a header. */
export interface DecisionFields {
  readonly identity: string;
  readonly method: unknown;
  readonly path: string | undefined;
  readonly op: string | undefined;
  readonly allow: boolean;
  readonly rule: string | undefined;
  readonly reason?: string | undefined;
  readonly code?: string | undefined;
}

export type DecisionLog = (fields: DecisionFields) => void;

const KEYS = ['identity', 'method', 'path', 'op', 'allow', 'rule', 'reason', 'code'] as const;

/**
 * Writes decision lines to the logger's sink, serialised by hand from the logger's own line prefix:
 * this runs for every Docker API call, and pino's generic object walk cost more than the decision.
 * The timestamp text is made once per millisecond.
 */
export function decisionLog({ log, sink }: PluginLog): DecisionLog {
  let lastMs = 0;
  let prefix = '';
  return function logDecision(fields) {
    if (!log.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      prefix = linePrefix('info', new Date(now).toISOString());
    }
    let line = prefix;
    for (const key of KEYS) {
      const value = fields[key];
      if (value !== undefined) line += `,"${key}":${JSON.stringify(value)}`;
    }
    sink.write(`${line},"msg":"decision"}\n`);
  };
}
