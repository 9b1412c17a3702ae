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

// JSON text of the values that repeat from call to call (identities, methods, operations, rules,
// images, the policy hash), made once: bounded, and only for short values.
const QUOTED_LIMIT = 2048;
const QUOTED_LENGTH = 256;

/**
 * Writes decision lines to the logger's sink, serialised by hand from the logger's own line prefix:
 * this runs for every Docker API call, and pino's generic object walk cost more than the decision.
 * The line is put together from cached pieces: the timestamp text is made once per millisecond, the
 * quoted values that repeat once per value. Each line has an `id` unique to this process run (a
 * random prefix and a counter), to point at one decision in a report.
 */
export function decisionLog({ log, sink }: PluginLog): DecisionLog {
  const run = randomBytes(4).toString('hex');
  let seq = 0;
  let lastMs = 0;
  let prefix = '';
  const quoted = new Map<string, string>();
  const q = (value: unknown): string => {
    if (typeof value !== 'string') return JSON.stringify(value);
    let text = quoted.get(value);
    if (text === undefined) {
      text = JSON.stringify(value);
      if (quoted.size < QUOTED_LIMIT && value.length <= QUOTED_LENGTH) quoted.set(value, text);
    }
    return text;
  };
  return function logDecision(f) {
    // pino's isLevelEnabled('info'), without the lookups (levels ascend: info is 30).
    if (log.levelVal > 30) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      prefix = `${linePrefix('info', new Date(now).toISOString())},"id":"${run}-`;
    }
    let line = `${prefix}${++seq}","identity":${q(f.identity)}`;
    if (f.method !== undefined) line += `,"method":${q(f.method)}`;
    if (f.path !== undefined) line += `,"path":${JSON.stringify(f.path)}`;
    if (f.op !== undefined) line += `,"op":${q(f.op)}`;
    if (f.image !== undefined) line += `,"image":${q(f.image)}`;
    line += f.allow ? ',"allow":true' : ',"allow":false';
    if (f.audit !== undefined) line += ',"audit":true';
    if (f.rule !== undefined) line += `,"rule":${q(f.rule)}`;
    if (f.reason !== undefined) line += `,"reason":${JSON.stringify(f.reason)}`;
    if (f.code !== undefined) line += `,"code":${q(f.code)}`;
    if (f.policy !== undefined) line += `,"policy":${q(f.policy)}`;
    sink.write(`${line},"msg":"decision"}\n`);
  };
}
