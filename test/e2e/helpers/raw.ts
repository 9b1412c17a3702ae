/**
 * A raw HTTP/1.1 client for the daemon's unix socket: the request is written byte for byte as
 * given, so tests can send what node:http refuses or rewrites (absolute-form and authority-less
 * request targets, chunked bodies with chosen chunk sizes, repeated headers, non-ASCII header
 * values).
 *
 *     const bytes = rawRequest({ method: 'POST', target: 'http://x/v1.41/containers/create',
 *       headers: [['Content-Type', 'application/json']], body: '{"Image":"busybox"}' })
 *     const res = await sendRaw(d.socket, bytes)
 *
 * Every request carries `Connection: close`, so the response ends when the daemon closes the
 * connection; the response is then parsed (Content-Length or chunked).
 */
import net from 'node:net';

export type HeaderList = readonly (readonly [string, string])[];

export interface RawRequestSpec {
  method: string;
  /** The request-target exactly as it goes on the request line. */
  target: string;
  /** Sent in this order, repeats allowed. `Host: docker` and `Connection: close` are added unless given. */
  headers?: HeaderList;
  body?: string | Buffer;
  /**
   * How the body is framed: `content-length` (default when there is a body) or `chunked`
   * (`Transfer-Encoding: chunked`, chunks of `chunkSize` bytes, default 64 KiB).
   */
  framing?: 'content-length' | 'chunked';
  chunkSize?: number;
}

export interface RawResponse {
  status: number;
  /** Header names lower-cased; repeated headers keep every value. */
  headers: Record<string, string[]>;
  /** The de-chunked body as UTF-8. */
  body: string;
}

const CRLF = '\r\n';

function has(headers: HeaderList, name: string): boolean {
  return headers.some(([k]) => k.toLowerCase() === name.toLowerCase());
}

/** The exact bytes of a request. */
export function rawRequest(spec: RawRequestSpec): Buffer {
  const headers: [string, string][] = [];
  const given = spec.headers ?? [];
  if (!has(given, 'host')) headers.push(['Host', 'docker']);
  headers.push(...given.map(([k, v]) => [k, v] as [string, string]));
  if (!has(given, 'connection')) headers.push(['Connection', 'close']);

  let body: Buffer = Buffer.alloc(0);
  if (spec.body !== undefined) {
    const payload = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
    if ((spec.framing ?? 'content-length') === 'chunked') {
      if (!has(given, 'transfer-encoding')) headers.push(['Transfer-Encoding', 'chunked']);
      const size = spec.chunkSize ?? 64 * 1024;
      const parts: Buffer[] = [];
      for (let at = 0; at < payload.length; at += size) {
        const chunk = payload.subarray(at, at + size);
        parts.push(Buffer.from(chunk.length.toString(16) + CRLF, 'latin1'), chunk, Buffer.from(CRLF, 'latin1'));
      }
      parts.push(Buffer.from(`0${CRLF}${CRLF}`, 'latin1'));
      body = Buffer.concat(parts);
    } else {
      if (!has(given, 'content-length')) headers.push(['Content-Length', String(payload.length)]);
      body = payload;
    }
  }
  // Header values are written as UTF-8: a non-ASCII value goes out as its UTF-8 bytes.
  const head = `${spec.method} ${spec.target} HTTP/1.1${CRLF}${headers.map(([k, v]) => `${k}: ${v}${CRLF}`).join('')}${CRLF}`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf(CRLF, at, 'latin1');
    if (eol < 0) throw new Error('truncated chunked response');
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size in response');
    at = eol + 2;
    if (size === 0) return Buffer.concat(out);
    out.push(buf.subarray(at, at + size));
    at += size + 2;
  }
}

/** Parses one complete HTTP/1.1 response (the connection was closed after it). */
export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf(`${CRLF}${CRLF}`, 0, 'latin1');
  if (end < 0) throw new Error(`incomplete response (${raw.length} bytes): ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split(CRLF);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if ((headers['transfer-encoding'] ?? []).some((v) => v.toLowerCase() === 'chunked')) body = dechunk(body);
  else if (headers['content-length']?.[0] !== undefined) body = body.subarray(0, Number(headers['content-length'][0]));
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

export interface SendOptions {
  /** Reject after this long (per attempt). Default 30s. */
  timeoutMs?: number;
  /**
   * How many times to send the request when the connection broke before a single response byte
   * arrived. Default 3. See sendRaw.
   */
  attempts?: number;
}

/** The connection broke (EPIPE/ECONNRESET) before any response byte was read. */
class LostResponseError extends Error {}

/**
 * Writes `bytes` to the unix socket and resolves with the response once the daemon closes the
 * connection.
 *
 * The daemon may answer (e.g. an authorization denial) and close the connection before it has
 * read a large body. A write that fails after the answer was read is ignored. A write that fails
 * before it was read takes the answer with it (node destroys the socket on a write error); the
 * daemon has then refused the request without reading it, so the request is sent again, up to
 * `attempts` times. A request the daemon executes has its whole body read, so it is never resent.
 */
export async function sendRaw(socketPath: string, bytes: Buffer, opts: SendOptions = {}): Promise<RawResponse> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendOnce(socketPath, bytes, opts.timeoutMs ?? 30_000);
    } catch (e) {
      if (!(e instanceof LostResponseError) || attempt >= attempts) throw e;
    }
  }
}

function sendOnce(socketPath: string, bytes: Buffer, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let writeError: Error | undefined;
    let settled = false;
    const sock = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      finish(new Error(`raw request on ${socketPath} timed out after ${timeoutMs}ms`));
      sock.destroy();
    }, timeoutMs);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) return reject(err);
      if (chunks.length === 0 && writeError)
        return reject(new LostResponseError(`connection broken before a response: ${writeError.message}`));
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (e) {
        reject(writeError ? new Error(`${(e as Error).message} (after write error: ${writeError.message})`) : e);
      }
    };
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET')
        writeError = e; // the response may still be complete
      else finish(e);
    });
    sock.on('close', () => finish());
    // No half-close: Go's server cancels a request's context when it reads EOF from the client.
    sock.on('connect', () => sock.write(bytes));
  });
}
