import { randomBytes } from 'node:crypto';
import { linePrefix, type PluginLog } from './logger.js';

/**
 * One line per AuthZReq decision, for forensics. Only these fields: never a body, a query string,
 * a header or an environment value.
 */
export interface DecisionFields {
  readonly identity: string;
  readonly method: unknown;
  readonly path: string | undefined;
  readonly op: string | undefined;
  /** The image of a container create. */
  readonly image?: string | undefined;
  readonly allow: boolean;
  /** True when a gate or rule in audit mode would have denied this (then `rule` and `reason` say which and why). */
  readonly audit?: true | undefined;
  readonly rule: string | undefined;
  readonly reason?: string | undefined;
  readonly code?: string | undefined;
  /** The policy's sha256 (first 12 hex digits). */
  readonly policy?: string | undefined;
}

export type DecisionLog = (fields: DecisionFields) => void;

const KEYS = ['identity', 'method', 'path', 'op', 'image', 'allow', 'audit', 'rule', 'reason', 'code', 'policy'] as const;

/**
 * Writes decision lines to the logger's sink, serialised by hand from the logger's own line prefix:
 * this runs for every Docker API call, and pino's generic object walk cost more than the decision.
 * The timestamp text is made once per millisecond. Each line has an `id` unique to this process
 * run (a random prefix and a counter), to point at one decision in a report.
 */
export function decisionLog({ log, sink }: PluginLog): DecisionLog {
  const run = randomBytes(4).toString('hex');
  let seq = 0;
  let lastMs = 0;
  let prefix = '';
  return function logDecision(fields) {
    if (!log.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      prefix = linePrefix('info', new Date(now).toISOString());
    }
    let line = `${prefix},"id":"${run}-${++seq}"`;
    for (const key of KEYS) {
      const value = fields[key];
      if (value !== undefined) line += `,"${key}":${JSON.stringify(value)}`;
    }
    sink.write(`${line},"msg":"decision"}\n`);
  };
}
