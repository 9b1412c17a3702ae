import { normalize, type Normalized } from '../request/normalize.js';
import type { DockerRequest, Subject } from '../request/types.js';
import { parseEnvelope, type Envelope } from './envelope.js';

/**
 * An AuthZ call read and decoded off the main thread (decode-pool.ts): what the handlers in
 * authz.ts decide from instead of the call's text. It is what they would have computed themselves:
 * the envelope (`env`, or why it cannot be read) and the operation normalize() makes of it.
 */
export interface Prepared {
  /** The envelope without its RequestBody (decoded into `normalized`), or why the call cannot be read. */
  readonly env: Envelope | string;
  /** normalize(env), when the envelope could be read and normalize returned. */
  readonly normalized?: Normalized;
  /** What normalize threw instead (a bug): thrown again where the decision is made. */
  readonly thrown?: Error;
  /** The call could not be decoded at all (the worker failed or timed out): why. Never an allow. */
  readonly failed?: string;
}

/** The operation of a prepared call: what normalize returned, or what it threw, thrown again. */
export function preparedOperation(p: Prepared): Normalized {
  if (p.thrown) throw p.thrown;
  return p.normalized!;
}

/** What the worker does with a call's text: everything the handlers do before deciding. */
export function prepare(text: string): Prepared {
  const env = parseEnvelope(text);
  if (typeof env === 'string') return { env };
  // The body is decoded into `normalized`; sending it back would only cost the main thread a copy.
  const rest: Record<string, unknown> = { ...env };
  delete rest.RequestBody;
  try {
    return { env: rest as Envelope, normalized: normalize(env) };
  } catch (err) {
    return { env: rest as Envelope, thrown: err instanceof Error ? err : new Error(String(err)) };
  }
}

// ---- between threads: structured clone keeps plain objects, arrays, Maps and undefined as they
// are; URLSearchParams (query subjects) and errors are sent as data and rebuilt.

type WireSubject =
  | Exclude<Subject, { query: URLSearchParams }>
  | (Omit<Extract<Subject, { query: URLSearchParams }>, 'query'> & { query: [string, string][] });

export interface WirePrepared {
  readonly env: Envelope | string;
  readonly normalized?: Normalized | { readonly ok: true; readonly request: Omit<DockerRequest, 'subject'> & { subject: WireSubject } };
  readonly thrown?: { readonly name: string; readonly message: string; readonly stack?: string | undefined };
}

export function toWire(p: Prepared): WirePrepared {
  const n = p.normalized;
  return {
    env: p.env,
    ...(n && {
      normalized:
        n.ok && 'query' in n.request.subject
          ? { ...n, request: { ...n.request, subject: { ...n.request.subject, query: [...n.request.subject.query] } } }
          : n,
    }),
    ...(p.thrown && { thrown: { name: p.thrown.name, message: p.thrown.message, stack: p.thrown.stack } }),
  };
}

export function fromWire(w: WirePrepared): Prepared {
  const n = w.normalized;
  let thrown: Error | undefined;
  if (w.thrown) {
    thrown = new Error(w.thrown.message);
    thrown.name = w.thrown.name;
    if (w.thrown.stack !== undefined) thrown.stack = w.thrown.stack;
  }
  return {
    env: w.env,
    ...(n && {
      normalized: (n.ok && 'query' in n.request.subject
        ? { ...n, request: { ...n.request, subject: { ...n.request.subject, query: new URLSearchParams(n.request.subject.query) } } }
        : n) as Normalized,
    }),
    ...(thrown && { thrown }),
  };
}
