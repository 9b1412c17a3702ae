import { pino } from 'pino';
import type { Logger } from './logger.js';

/** One line per AuthZReq decision. Only these fields: never a body, a query string or a header. */
export interface DecisionFields {
  readonly identity: string;
  readonly method: unknown;
  readonly path: string | undefined;
  readonly op: string | undefined;
  readonly allow: boolean;
  readonly rule: string | undefined;
  readonly reason?: string;
  readonly code?: string;
}

export type DecisionLog = (fields: DecisionFields) => void;

const KEYS = ['identity', 'method', 'path', 'op', 'allow', 'rule', 'reason', 'code'] as const;

/**
 * Writes decision lines in the logger's own format and stream, serialised by hand: this runs for
 * every Docker API call, and pino's generic object walk cost more than the decision itself.
 */
export function decisionLog(log: Logger): DecisionLog {
  const stream = (log as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!;
  const bindings = JSON.stringify(log.bindings()).slice(1, -1);
  const prefix = `{"level":"info","time":"`;
  const middle = `"${bindings ? `,${bindings}` : ''}`;
  return function logDecision(fields) {
    if (!log.isLevelEnabled('info')) return;
    let line = prefix + new Date().toISOString() + middle;
    for (const key of KEYS) {
      const value = fields[key];
      if (value !== undefined) line += `,"${key}":${JSON.stringify(value)}`;
    }
    stream.write(`${line},"msg":"decision"}\n`);
  };
}
