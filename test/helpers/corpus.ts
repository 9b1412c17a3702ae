import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Real traffic captured from dockerd 20.10.24 with docker CLI 28 (see test/fixtures/corpus/README.md).
export interface CorpusCall {
  readonly endpoint: 'AuthZReq' | 'AuthZRes' | 'Plugin.Activate';
  readonly payload: Record<string, unknown> | null;
}
export interface CorpusEntry {
  readonly file: string;
  readonly command: string;
  readonly requests: readonly CorpusCall[];
}

export const CORPUS_DIR = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));

export function loadCorpus(): CorpusEntry[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(CORPUS_DIR + file, 'utf8')) as Omit<CorpusEntry, 'file'>) }));
}

export function corpusEntry(prefix: string): CorpusEntry {
  const e = loadCorpus().find((c) => c.file.startsWith(prefix));
  if (!e) throw new Error(`no corpus file ${prefix}`);
  return e;
}

/** The AuthZReq payloads of one capture, optionally only those whose URI contains `uriPart`. */
export function corpusRequests(prefix: string, uriPart = ''): Record<string, unknown>[] {
  return corpusEntry(prefix)
    .requests.filter((r) => r.endpoint === 'AuthZReq' && String(r.payload?.RequestUri ?? '').includes(uriPart))
    .map((r) => r.payload!);
}

/** Builds an AuthZReq envelope the way the daemon does: base64 body, canonical headers. */
export function envelope(method: string, uri: string, body?: unknown, headers: Record<string, string> = {}): Record<string, unknown> {
  const env: Record<string, unknown> = {
    RequestMethod: method,
    RequestUri: uri,
    RequestHeaders: { 'User-Agent': 'Docker-Client/28.2.2 (linux)', ...headers },
  };
  // Like Go's HTTP client (the docker CLI): a bodiless POST or PUT declares Content-Length: 0.
  if (body === undefined && (method === 'POST' || method === 'PUT'))
    (env.RequestHeaders as Record<string, string>)['Content-Length'] ??= '0';
  if (body !== undefined) {
    const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
    env.RequestBody = Buffer.from(text).toString('base64');
    (env.RequestHeaders as Record<string, string>)['Content-Type'] ??= 'application/json';
    (env.RequestHeaders as Record<string, string>)['Content-Length'] ??= String(Buffer.byteLength(text));
  }
  return env;
}
