/**
 * The tests' HTTP client for unix sockets (the plugin's and the daemon's). For bytes node:http
 * would refuse or rewrite, see `raw` below and test/e2e/helpers/raw.ts.
 */
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface RequestOptions {
  /** Sent as given. `Host` defaults to empty, as dockerd 20.10.24 sends it to plugins. */
  headers?: Record<string, string>;
  /** Content-Length is added unless given. */
  body?: string | Buffer;
  /** A keep-alive agent reuses connections the way the daemon does. Default: one connection per call. */
  agent?: Agent;
  /** Reject after this long. Default 30 s. */
  timeoutMs?: number;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8. */
  readonly body: string;
  /** The body parsed as JSON (throws if it is not). */
  json<T = unknown>(): T;
}

/** One HTTP call over a unix socket. Resolves with any status; rejects on connection errors and timeout. */
export function unixRequest(socketPath: string, method: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: '', ...opts.headers };
    if (opts.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    }
    const req = request({ socketPath, method, path, headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
      });
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path} on ${socketPath} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends exact bytes and returns everything the server answers until `untilText` matches or it closes. */
export function raw(socketPath: string, bytes: string | Buffer, untilText: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let got = '';
    s.on('data', (d) => {
      got += d.toString('utf8');
      if (untilText.test(got)) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(bytes);
  });
}
